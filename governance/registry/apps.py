from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "governance.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from governance.jobs.kinds import JobKind, job_kind_register
        from governance.registry import mitigation, services
        from governance.registry.models import ModelVersion

        job_kind_register(JobKind(kind="training", task_name=services.TRAIN_TASK, subject=ModelVersion,
                                  run=services.model_version_train, failed=services.model_version_job_failed))
        job_kind_register(JobKind(kind=mitigation.MITIGATION_JOB_KIND, task_name=mitigation.MITIGATE_TASK,
                                  subject=ModelVersion, run=mitigation.model_version_mitigation_run,
                                  failed=mitigation.model_version_mitigation_job_failed))
