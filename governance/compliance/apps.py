from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "governance.compliance"
    label = "compliance"
    verbose_name = "Compliance records and audit log"

    def ready(self) -> None:
        from governance.compliance import pii_scans
        from governance.datasets.models import DatasetVersion
        from governance.jobs.kinds import JobKind, job_kind_register

        job_kind_register(JobKind(kind=pii_scans.JOB_KIND, task_name=pii_scans.TASK_NAME, subject=DatasetVersion,
                                  run=pii_scans.pii_scan_run))
