from django.apps import AppConfig


class AuditsConfig(AppConfig):
    name = "governance.audits"
    label = "audits"
    verbose_name = "Audits"

    def ready(self) -> None:
        from governance.audits import services
        from governance.audits.models import Audit
        from governance.jobs.kinds import JobKind, job_kind_register

        job_kind_register(JobKind(kind="audit", task_name=services.AUDIT_TASK, subject=Audit,
                                  run=services.audit_run, failed=services.audit_job_failed))
