from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The top of the web layer: the home page, which reads every app below it, and the demo loader."""

    name = "governance.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
