"""`python manage.py retention_purge [--as-of ISO-8601]`: run the retention purge now (the schedule runs it
daily as the task governance.retention_purge); prints what it removed and every store it cleaned."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from governance.compliance.retention import retention_purge


class Command(BaseCommand):
    help = "Remove the records held past their dataset's retention period, and every trace of them."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="Judge the retention periods at this instant (default: now).")

    def handle(self, *args, as_of=None, **options):
        now = parse_datetime(as_of) if as_of else None
        if as_of and (now is None or now.tzinfo is None):
            raise CommandError("--as-of takes an ISO 8601 instant with its offset, e.g. 2026-12-01T00:00:00Z.")
        run = retention_purge(now=now)
        self.stdout.write(f"Retention run #{run.pk}: {run.records_removed} record(s), "
                          f"{run.predictions_removed} prediction(s) removed.")
        for store in run.stores:
            self.stdout.write(f"  {store['store']}: {store['action']}, {store['count']}")
