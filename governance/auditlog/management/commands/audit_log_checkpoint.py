"""`python manage.py audit_log_checkpoint [--reason R]`: verify the audit log from the newest valid signed
checkpoint to the head and sign a checkpoint of the head.

Exit status 0 with the checkpoint printed; 1 when the log does not verify (each problem printed, nothing
signed, the refusal logged, appended to the log and sent to `auditlog.verification_failed` webhooks).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from governance.auditlog.services import AuditLogVerificationFailed, audit_log_checkpoint_write


class Command(BaseCommand):
    help = "Verify the audit log up to its head and sign a checkpoint of it."

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="manual", help="recorded with the checkpoint (20 characters)")

    def handle(self, *args, reason: str, **options):
        try:
            checkpoint = audit_log_checkpoint_write(None, reason=reason)
        except AuditLogVerificationFailed as exc:
            self.stdout.write(self.style.ERROR(f"REFUSED: the audit log does not verify, no checkpoint signed "
                                               f"({len(exc.problems)} problem(s))"))
            for problem in exc.problems:
                self.stdout.write(f"  - {problem}")
            raise SystemExit(1) from exc
        self.stdout.write(json.dumps(checkpoint, indent=2))
