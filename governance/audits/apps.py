from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "governance.audits"
    label = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        from governance import hooks
        from governance.audits.selectors import audit_compute_records, model_version_audits_section

        # The registry's pages show the audits of a version and the compute they used (registry sits below).
        hooks.model_version_page_sections.register(model_version_audits_section)
        hooks.model_compute_records.register(audit_compute_records)
