"""Routes of the audit log (API and pages), included from governance/urls.py; names are global (no namespace)."""

from django.urls import path

from governance.auditlog import api, views

urlpatterns = [
    path("api/audit-log/", api.AuditLogListApi.as_view(), name="api-audit-log"),
    path("api/audit-log/verify/", api.AuditLogVerifyApi.as_view(), name="api-audit-log-verify"),
    path("api/audit-log/export/", api.AuditLogExportApi.as_view(), name="api-audit-log-export"),
    path("api/audit-log/checkpoints/", api.AuditLogCheckpointApi.as_view(), name="api-audit-log-checkpoints"),
    path("audit-log/", views.audit_log, name="audit-log"),
    path("audit-log/export.jsonl", views.audit_log_export, name="audit-log-export"),
    path("audit-log/checkpoint/", views.audit_log_checkpoint, name="audit-log-checkpoint"),
]
