from django.apps import AppConfig


class AuditLogConfig(AppConfig):
    name = "governance.auditlog"
    label = "auditlog"
    verbose_name = "Audit log"
