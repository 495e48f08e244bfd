"""`python manage.py verify_audit_log [--checkpoint FILE ...]`: verify the audit log's chain and checkpoints.

Exit status 0 when intact, 1 when any entry was edited, deleted, inserted or reordered, or a checkpoint shows
the log was truncated or rewritten (each problem is printed).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from governance.auditlog.selectors import audit_log_verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log and the signed checkpoints (stored, written out, given)."

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", action="append", default=[],
                            help="an extra checkpoint JSON file to check the log against (repeatable)")

    def handle(self, *args, checkpoint: list[str], **options):
        extra = []
        for path in checkpoint:
            try:
                with open(path, encoding="utf-8") as handle:
                    extra.append(json.load(handle))
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read checkpoint {path}: {exc}") from exc
        verdict = audit_log_verify(extra_checkpoints=extra)
        if verdict.ok:
            where = (f"; checked against {verdict.checkpoints_checked} signed checkpoint(s), the newest #"
                     f"{verdict.checkpoint['seq']}" if verdict.checkpoint else "; no checkpoint yet")
            self.stdout.write(self.style.SUCCESS(
                f"OK: {verdict.checked} entries verified, head #{verdict.head_seq} {verdict.head_hash}{where}"))
            return
        self.stdout.write(self.style.ERROR(f"FAILED: {len(verdict.problems)} problem(s)"))
        for problem in verdict.problems:
            self.stdout.write(f"  - {problem}")
        raise SystemExit(1)
