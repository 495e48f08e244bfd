from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "governance.serving"
    label = "serving"
    verbose_name = "Serving, decision log and monitoring"

    def ready(self) -> None:
        from governance import hooks
        from governance.jobs.kinds import JobKind, job_kind_register
        from governance.serving import monitoring
        from governance.serving.models import MonitoringReport
        from governance.serving.selectors import model_page_monitoring

        job_kind_register(JobKind(kind=monitoring.MONITORING_JOB_KIND, task_name=monitoring.MONITOR_TASK,
                                  subject=MonitoringReport, run=monitoring.monitoring_run,
                                  failed=monitoring.monitoring_job_failed))
        hooks.model_page_sections.register(model_page_monitoring)
