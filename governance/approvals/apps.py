from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "governance.approvals"
    label = "approvals"
    verbose_name = "Deployment approvals"

    def ready(self) -> None:
        from governance import hooks
        from governance.approvals.selectors import audit_report_verdicts

        # The audit report shows each environment's policy judged on the audit (audits sits below approvals).
        hooks.audit_report_sections.register(audit_report_verdicts)
