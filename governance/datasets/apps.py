from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "governance.datasets"
    label = "datasets"
    verbose_name = "Datasets"

    def ready(self) -> None:
        from governance.datasets import large_uploads, pii_scans, selectors, services
        from governance.datasets.models import DatasetDrift, DatasetUpload, DatasetVersion
        from governance.jobs.kinds import JobKind, job_kind_register

        job_kind_register(JobKind(kind=selectors.DATASHEET_JOB_KIND, task_name=services.DATASHEET_TASK,
                                  subject=DatasetVersion, run=services.datasheet_build))
        job_kind_register(JobKind(kind=selectors.DRIFT_JOB_KIND, task_name=services.DRIFT_TASK,
                                  subject=DatasetDrift, run=services.dataset_drift_compute))
        job_kind_register(JobKind(kind=pii_scans.JOB_KIND, task_name=pii_scans.TASK_NAME, subject=DatasetVersion,
                                  run=pii_scans.pii_scan_run))
        job_kind_register(JobKind(kind=large_uploads.JOB_KIND, task_name=large_uploads.TASK_NAME,
                                  subject=DatasetUpload, run=large_uploads.dataset_upload_ingest))
