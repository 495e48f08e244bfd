from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from governance.accounts import urls as accounts_urls
from governance.approvals import urls as approvals_urls
from governance.audits import urls as audits_urls
from governance.compliance import api as compliance_api
from governance.compliance import urls_records as compliance_records
from governance.compliance import views as compliance_views
from governance.dashboard import urls as dashboard_urls
from governance.datasets import urls as datasets_urls
from governance.jobs import urls as jobs_urls
from governance.registry import urls as registry_urls

# Each app's API and page routes are in its urls.py; names are bare (no app_name namespace): templates and
# tests reverse "audit", "api-audits", ...
apps = [
    path("", include(dashboard_urls)),
    path("", include(accounts_urls)),
    path("", include(datasets_urls)),
    path("", include(registry_urls)),
    path("", include(audits_urls)),
    path("", include(approvals_urls)),
    path("", include(jobs_urls)),
]

api = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/audit-log/", compliance_api.AuditLogListApi.as_view(), name="api-audit-log"),
    path("api/audit-log/verify/", compliance_api.AuditLogVerifyApi.as_view(), name="api-audit-log-verify"),
    path("api/audit-log/export/", compliance_api.AuditLogExportApi.as_view(), name="api-audit-log-export"),
    path("api/audit-log/checkpoints/", compliance_api.AuditLogCheckpointApi.as_view(), name="api-audit-log-checkpoints"),
    path("api/compliance/processing-record/", compliance_api.ProcessingRecordApi.as_view(),
         name="api-processing-record"),
    *compliance_records.api_urls,
]

pages = [
    path("compliance/", compliance_views.compliance_home, name="compliance"),
    path("compliance/processing-record.json", compliance_views.processing_record_export,
         name="processing-record-export"),
    *compliance_records.page_urls,
    path("audit-log/", compliance_views.audit_log, name="audit-log"),
    path("audit-log/export.jsonl", compliance_views.audit_log_export, name="audit-log-export"),
    path("audit-log/checkpoint/", compliance_views.audit_log_checkpoint, name="audit-log-checkpoint"),
    path("admin/", admin.site.urls),
]

urlpatterns = api + apps + pages
