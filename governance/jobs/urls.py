from django.urls import path

from governance.jobs import api

urlpatterns = [
    path("api/jobs/", api.JobListApi.as_view(), name="api-jobs"),
    path("api/jobs/<int:pk>/", api.JobDetailApi.as_view(), name="api-job"),
]
