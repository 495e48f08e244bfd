"""`python manage.py verify_audit_log [--checkpoint FILE ...] [--require-covered]`: verify the audit log's
chain, its seals and every signed checkpoint (table, local folder, shared storage, the files given).

Exit status 0 when intact, 1 when any entry was edited, deleted, inserted, reordered or re-chained, a
checkpoint shows the log was truncated or rewritten, a checkpoint's signature fails, or an entry after the
newest valid checkpoint lacks a valid seal (each problem is printed, naming the entry). Entries appended
since the newest checkpoint are legitimately not yet covered: with valid seals they are reported as such
and do not fail the run, unless --require-covered is given (then the head itself must be signed).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from governance.auditlog.selectors import audit_log_owner_connected, audit_log_verify


class Command(BaseCommand):
    help = "Verify the hash chain, the seals and the signed checkpoints of the audit log."

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", action="append", default=[],
                            help="an extra checkpoint JSON file to check the log against (repeatable)")
        parser.add_argument("--require-covered", action="store_true",
                            help="fail when any entry is not yet covered by a signed checkpoint")

    def handle(self, *args, checkpoint: list[str], require_covered: bool, **options):
        extra = []
        for path in checkpoint:
            try:
                with open(path, encoding="utf-8") as handle:
                    extra.append(json.load(handle))
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read checkpoint {path}: {exc}") from exc
        verdict = audit_log_verify(extra_checkpoints=extra)
        owner = audit_log_owner_connected()
        if owner:
            self.stderr.write(f"warning: this process connects as {owner}, the owner of the audit log's tables, who "
                              f"can switch off their triggers: run the application as the role `manage.py db_roles` "
                              f"creates (README, 'The database role the application runs as')")
        problems = list(verdict.problems)
        if require_covered and verdict.uncovered:
            problems += [f"entry #{seq}: not covered by a signed checkpoint (--require-covered)"
                         for seq in range(verdict.uncovered_from, verdict.head_seq + 1)][:200]
        if not problems:
            where = (f"; checked against {verdict.checkpoints_checked} signed checkpoint(s), the newest #"
                     f"{verdict.checkpoint['seq']}" if verdict.checkpoint else "; no checkpoint yet")
            self.stdout.write(self.style.SUCCESS(
                f"OK: {verdict.checked} entries verified, head #{verdict.head_seq} {verdict.head_hash}{where}"))
            if verdict.uncovered:
                self.stdout.write(f"not yet covered: {verdict.uncovered} entries (#{verdict.uncovered_from}–"
                                  f"#{verdict.head_seq}) appended since the newest checkpoint, each with a valid "
                                  f"seal; the next checkpoint will cover them")
            return
        self.stdout.write(self.style.ERROR(f"FAILED: {len(problems)} problem(s)"))
        for problem in problems:
            self.stdout.write(f"  - {problem}")
        raise SystemExit(1)
