from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "governance.audits"
    label = "audits"
    verbose_name = "Audits"
