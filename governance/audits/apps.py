from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "governance.audits"
    label = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        from governance import hooks
        from governance.audits.selectors import audit_compute_records, model_version_audits_section
        from governance.audits import services
        from governance.audits.models import Audit
        from governance.jobs.kinds import JobKind, job_kind_register

        job_kind_register(JobKind(kind="audit", task_name=services.AUDIT_TASK, subject=Audit,
                                  run=services.audit_run, failed=services.audit_job_failed))

        # The registry's pages show the audits of a version and the compute they used (registry sits below).
        hooks.model_version_page_sections.register(model_version_audits_section)
        hooks.model_compute_records.register(audit_compute_records)
