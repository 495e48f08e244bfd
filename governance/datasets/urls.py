from django.urls import path

from governance.datasets import api, api_uploads, views

api_urls = [
    path("api/datasets/", api.DatasetListApi.as_view(), name="api-datasets"),
    path("api/datasets/<int:pk>/", api.DatasetDetailApi.as_view(), name="api-dataset"),
    path("api/datasets/<int:pk>/confirm-metadata/", api.DatasetMetadataConfirmApi.as_view(),
         name="api-dataset-confirm-metadata"),
    path("api/dataset-uploads/", api_uploads.DatasetUploadStartApi.as_view(), name="api-dataset-uploads"),
    path("api/dataset-uploads/<int:pk>/", api_uploads.DatasetUploadDetailApi.as_view(), name="api-dataset-upload"),
    path("api/dataset-uploads/<int:pk>/chunks/", api_uploads.DatasetUploadChunkApi.as_view(),
         name="api-dataset-upload-chunks"),
    path("api/dataset-versions/", api.DatasetVersionListApi.as_view(), name="api-dataset-versions"),
    path("api/dataset-versions/<int:pk>/", api.DatasetVersionDetailApi.as_view(), name="api-dataset-version"),
    path("api/dataset-versions/<int:pk>/records/", api.DatasetRecordListApi.as_view(),
         name="api-dataset-records"),
    path("api/dataset-versions/<int:pk>/records/search/", api.DatasetRecordSearchApi.as_view(),
         name="api-dataset-records-search"),
    path("api/dataset-versions/<int:pk>/datasheet/", api.DatasheetApi.as_view(),
         name="api-dataset-datasheet"),
    path("api/dataset-versions/<int:pk>/drift/", api.DatasetDriftApi.as_view(), name="api-dataset-drift"),
    path("api/dataset-versions/<int:pk>/split/", api.DatasetSplitApi.as_view(), name="api-dataset-split"),
    path("api/dataset-versions/<int:pk>/reweigh/", api.DatasetReweighApi.as_view(),
         name="api-dataset-reweigh"),
    path("api/dataset-versions/<int:pk>/resample/", api.DatasetResampleApi.as_view(),
         name="api-dataset-resample"),
]

page_urls = [
    path("datasets/", views.dataset_list, name="datasets"),
    path("datasets/upload/", views.dataset_upload, name="dataset-upload"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset"),
    path("datasets/<int:pk>/confirm-metadata/", views.dataset_metadata_confirm, name="dataset-confirm-metadata"),
    path("datasets/versions/<int:pk>/", views.dataset_version_detail, name="dataset-version"),
    path("datasets/versions/<int:pk>/datasheet/", views.dataset_version_datasheet, name="dataset-datasheet"),
    path("datasets/versions/<int:pk>/split/", views.dataset_version_split, name="dataset-version-split"),
    path("datasets/versions/<int:pk>/reweigh/", views.dataset_version_reweigh,
         name="dataset-version-reweigh"),
    path("datasets/versions/<int:pk>/resample/", views.dataset_version_resample,
         name="dataset-version-resample"),
    path("datasets/uploads/<int:pk>/", views.dataset_upload_detail, name="dataset-upload-detail"),
    path("datasets/compare/", views.dataset_compare, name="dataset-compare"),
]

urlpatterns = api_urls + page_urls
