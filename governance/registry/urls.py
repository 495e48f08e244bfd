from django.urls import path

from governance.registry import api, api_generative, views

api_urls = [
    path("api/models/", api.ModelListApi.as_view(), name="api-models"),
    path("api/model-versions/", api.ModelVersionListApi.as_view(), name="api-model-versions"),
    path("api/model-versions/import/", api.ModelVersionImportApi.as_view(), name="api-model-version-import"),
    path("api/model-versions/<int:pk>/", api.ModelVersionDetailApi.as_view(), name="api-model-version"),
    path("api/model-versions/<int:pk>/mitigate/", api.ModelVersionMitigateApi.as_view(),
         name="api-model-version-mitigate"),
    path("api/model-versions/import-decoder/", api_generative.DecoderImportApi.as_view(),
         name="api-decoder-import"),
    path("api/model-versions/<int:pk>/generate/", api_generative.ModelVersionGenerateApi.as_view(),
         name="api-model-version-generate"),
    path("api/model-versions/<int:pk>/compute/", api.ModelVersionComputeApi.as_view(),
         name="api-model-version-compute"),
    path("api/models/<int:pk>/compute/", api.ModelComputeApi.as_view(), name="api-model-compute"),
    path("api/pretrained-encoders/", api.PretrainedEncoderListApi.as_view(), name="api-pretrained-encoders"),
    path("api/pretrained-encoders/<int:pk>/", api.PretrainedEncoderDetailApi.as_view(),
         name="api-pretrained-encoder"),
    path("api/deployments/", api.DeploymentListApi.as_view(), name="api-deployments"),
    path("api/deployments/at/", api.DeploymentAtApi.as_view(), name="api-deployments-at"),
    path("api/deployments/rollback/", api.DeploymentRollbackApi.as_view(), name="api-deployment-rollback"),
    path("api/deployments/retire/", api.DeploymentRetireApi.as_view(), name="api-deployment-retire"),
]

page_urls = [
    path("models/", views.model_list, name="models"),
    path("models/train/", views.model_train, name="model-train"),
    path("models/import/", views.model_version_import, name="model-import"),
    path("models/import-decoder/", views.decoder_import, name="decoder-import"),
    path("models/encoders/", views.pretrained_encoder_list, name="pretrained-encoders"),
    path("models/<int:pk>/", views.model_detail, name="model"),
    path("models/versions/<int:pk>/", views.model_version_detail, name="model-version"),
    path("models/versions/<int:pk>/playground/", views.model_version_playground, name="model-version-playground"),
    path("models/versions/<int:pk>/mitigate/", views.model_version_mitigate, name="model-version-mitigate"),
    path("models/<int:pk>/timeline/", views.model_timeline, name="model-timeline"),
    path("models/<int:pk>/deployments/<str:action>/", views.deployment_change, name="deployment-change"),
]

urlpatterns = api_urls + page_urls
