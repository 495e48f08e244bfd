from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "governance.approvals"
    label = "approvals"
    verbose_name = "Deployment approvals"

    def ready(self) -> None:
        from governance import hooks
        from governance.approvals.selectors import audit_report_verdicts
        from governance.approvals import notifications, receivers
        from governance.approvals.models import WebhookDelivery
        from governance.audits.models import Audit
        from governance.audits.signals import audit_completed
        from governance.datasets.models import Dataset
        from governance.datasets.signals import dataset_metadata_changed
        from governance.registry.models import Deployment
        from governance.registry.signals import deployment_authorise
        from governance.jobs.kinds import JobKind, job_kind_register

        job_kind_register(JobKind(kind=notifications.WEBHOOK_JOB_KIND, task_name=notifications.DELIVER_TASK,
                                  subject=WebhookDelivery, run=notifications.webhook_delivery_run,
                                  failed=notifications.webhook_delivery_job_failed, listed=False))
        audit_completed.connect(receivers.deployment_requests_recheck_on_audit_completed, sender=Audit,
                                dispatch_uid="approvals.recheck_on_audit_completed")
        from governance.auditlog import signals as auditlog_signals

        auditlog_signals.checkpoint_signed.connect(receivers.webhooks_on_audit_log_checkpoint,
                                                   dispatch_uid="approvals.webhooks_on_audit_log_checkpoint")
        auditlog_signals.verification_failed.connect(receivers.webhooks_on_audit_log_verification_failed,
                                                     dispatch_uid="approvals.webhooks_on_audit_log_failure")
        dataset_metadata_changed.connect(receivers.deployment_requests_recheck_on_dataset_metadata, sender=Dataset,
                                         dispatch_uid="approvals.recheck_on_dataset_metadata")
        deployment_authorise.connect(receivers.deployment_request_authorise, sender=Deployment,
                                     dispatch_uid="approvals.authorise_deployment")

        # The audit report shows each environment's policy judged on the audit (audits sits below approvals).
        hooks.audit_report_sections.register(audit_report_verdicts)
