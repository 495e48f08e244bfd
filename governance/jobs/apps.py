from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "governance.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
