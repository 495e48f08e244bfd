from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from governance.accounts import api as accounts_api
from governance.accounts import views as account_views
from governance.approvals import api as approvals_api
from governance.approvals import views as approvals_views
from governance.audits import api as audits_api
from governance.auditlog import urls as auditlog_urls
from governance.audits import views as audits_views
from governance.compliance import urls as compliance_urls
from governance.datasets import api as datasets_api
from governance.datasets import views as datasets_views
from governance.jobs import api as jobs_api
from governance.registry import api as registry_api
from governance.registry import views as registry_views

api = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/auth/token/", accounts_api.TokenObtainApi.as_view(), name="api-token"),
    path("api/datasets/", datasets_api.DatasetListApi.as_view(), name="api-datasets"),
    path("api/datasets/<int:pk>/", datasets_api.DatasetDetailApi.as_view(), name="api-dataset"),
    path("api/dataset-versions/", datasets_api.DatasetVersionListApi.as_view(), name="api-dataset-versions"),
    path("api/dataset-versions/<int:pk>/", datasets_api.DatasetVersionDetailApi.as_view(), name="api-dataset-version"),
    path("api/dataset-versions/<int:pk>/records/", datasets_api.DatasetRecordListApi.as_view(),
         name="api-dataset-records"),
    path("api/dataset-versions/<int:pk>/datasheet/", datasets_api.DatasheetApi.as_view(),
         name="api-dataset-datasheet"),
    path("api/dataset-versions/<int:pk>/drift/", datasets_api.DatasetDriftApi.as_view(), name="api-dataset-drift"),
    path("api/dataset-versions/<int:pk>/reweigh/", datasets_api.DatasetReweighApi.as_view(),
         name="api-dataset-reweigh"),
    path("api/dataset-versions/<int:pk>/resample/", datasets_api.DatasetResampleApi.as_view(),
         name="api-dataset-resample"),
    path("api/models/", registry_api.ModelListApi.as_view(), name="api-models"),
    path("api/model-versions/", registry_api.ModelVersionListApi.as_view(), name="api-model-versions"),
    path("api/model-versions/<int:pk>/", registry_api.ModelVersionDetailApi.as_view(), name="api-model-version"),
    path("api/model-versions/<int:pk>/mitigate/", registry_api.ModelVersionMitigateApi.as_view(),
         name="api-model-version-mitigate"),
    path("api/model-versions/<int:pk>/compute/", registry_api.ModelVersionComputeApi.as_view(),
         name="api-model-version-compute"),
    path("api/models/<int:pk>/compute/", registry_api.ModelComputeApi.as_view(), name="api-model-compute"),
    path("api/pretrained-encoders/", registry_api.PretrainedEncoderListApi.as_view(), name="api-pretrained-encoders"),
    path("api/pretrained-encoders/<int:pk>/", registry_api.PretrainedEncoderDetailApi.as_view(),
         name="api-pretrained-encoder"),
    path("api/deployments/", registry_api.DeploymentListApi.as_view(), name="api-deployments"),
    path("api/deployments/at/", registry_api.DeploymentAtApi.as_view(), name="api-deployments-at"),
    path("api/deployments/rollback/", registry_api.DeploymentRollbackApi.as_view(), name="api-deployment-rollback"),
    path("api/deployments/retire/", registry_api.DeploymentRetireApi.as_view(), name="api-deployment-retire"),
    path("api/audits/", audits_api.AuditListApi.as_view(), name="api-audits"),
    path("api/audits/compare/", audits_api.AuditCompareApi.as_view(), name="api-audit-compare"),
    path("api/audits/<int:pk>/", audits_api.AuditDetailApi.as_view(), name="api-audit"),
    path("api/audits/<int:pk>/predictions/", audits_api.AuditPredictionListApi.as_view(), name="api-audit-predictions"),
    path("api/deployment-requests/", approvals_api.RequestListApi.as_view(), name="api-requests"),
    path("api/deployment-requests/<int:pk>/", approvals_api.RequestDetailApi.as_view(), name="api-request"),
    path("api/deployment-requests/<int:pk>/approve/", approvals_api.RequestApproveApi.as_view(),
         name="api-request-approve"),
    path("api/deployment-requests/<int:pk>/reject/", approvals_api.RequestRejectApi.as_view(),
         name="api-request-reject"),
    path("api/deployment-requests/<int:pk>/recheck/", approvals_api.RequestRecheckApi.as_view(),
         name="api-request-recheck"),
    path("api/deployment-requests/<int:pk>/comments/", approvals_api.RequestCommentApi.as_view(),
         name="api-request-comments"),
    path("api/deployment-requests/<int:pk>/waivers/", approvals_api.RequestWaiverApi.as_view(),
         name="api-request-waivers"),
    path("api/deployment-policies/", approvals_api.PolicyListApi.as_view(), name="api-policies"),
    path("api/deployment-policies/<str:environment>/", approvals_api.PolicyDetailApi.as_view(), name="api-policy"),
    path("api/webhooks/", approvals_api.WebhookListApi.as_view(), name="api-webhooks"),
    path("api/jobs/", jobs_api.JobListApi.as_view(), name="api-jobs"),
    path("api/jobs/<int:pk>/", jobs_api.JobDetailApi.as_view(), name="api-job"),
    # The audit log's and the compliance records' API and pages (their own urls.py).
    path("", include(auditlog_urls)),
    path("", include(compliance_urls)),
]

pages = [
    path("", account_views.home, name="home"),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("datasets/", datasets_views.dataset_list, name="datasets"),
    path("datasets/upload/", datasets_views.dataset_upload, name="dataset-upload"),
    path("datasets/<int:pk>/", datasets_views.dataset_detail, name="dataset"),
    path("datasets/versions/<int:pk>/", datasets_views.dataset_version_detail, name="dataset-version"),
    path("datasets/versions/<int:pk>/datasheet/", datasets_views.dataset_version_datasheet, name="dataset-datasheet"),
    path("datasets/versions/<int:pk>/reweigh/", datasets_views.dataset_version_reweigh,
         name="dataset-version-reweigh"),
    path("datasets/versions/<int:pk>/resample/", datasets_views.dataset_version_resample,
         name="dataset-version-resample"),
    path("datasets/compare/", datasets_views.dataset_compare, name="dataset-compare"),
    path("models/", registry_views.model_list, name="models"),
    path("models/train/", registry_views.model_train, name="model-train"),
    path("models/encoders/", registry_views.pretrained_encoder_list, name="pretrained-encoders"),
    path("models/<int:pk>/", registry_views.model_detail, name="model"),
    path("models/versions/<int:pk>/", registry_views.model_version_detail, name="model-version"),
    path("models/versions/<int:pk>/mitigate/", registry_views.model_version_mitigate, name="model-version-mitigate"),
    path("models/<int:pk>/timeline/", registry_views.model_timeline, name="model-timeline"),
    path("models/<int:pk>/deployments/<str:action>/", registry_views.deployment_change, name="deployment-change"),
    path("audits/", audits_views.audit_list, name="audits"),
    path("audits/new/", audits_views.audit_new, name="audit-new"),
    path("audits/compare/", audits_views.audit_compare, name="audit-compare"),
    path("audits/<int:pk>/", audits_views.audit_detail, name="audit"),
    path("audits/<int:pk>/export/<str:fmt>/", audits_views.audit_export, name="audit-export"),
    path("approvals/", approvals_views.request_list, name="deployment-requests"),
    path("approvals/new/", approvals_views.request_new, name="deployment-request-new"),
    path("approvals/<int:pk>/", approvals_views.request_detail, name="deployment-request"),
    path("approvals/<int:pk>/approve/", approvals_views.request_approve, name="deployment-request-approve"),
    path("approvals/<int:pk>/reject/", approvals_views.request_reject, name="deployment-request-reject"),
    path("approvals/<int:pk>/comment/", approvals_views.request_comment, name="deployment-request-comment"),
    path("approvals/<int:pk>/waiver/", approvals_views.request_waiver, name="deployment-request-waiver"),
    path("approvals/<int:pk>/recheck/", approvals_views.request_recheck, name="deployment-request-recheck"),
    path("approvals/policies/", approvals_views.policy_list, name="deployment-policies"),
    path("approvals/policies/<str:environment>/", approvals_views.policy_edit, name="deployment-policy-edit"),
    path("admin/", admin.site.urls),
]

urlpatterns = api + pages
