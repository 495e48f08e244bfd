from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The top of the web layer: the home page, which reads every app below it, and the demo loader."""

    name = "governance.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from governance.api_fields import char_fields_refuse_numbers

        char_fields_refuse_numbers()  # the API's strings are JSON strings, as its schema says
