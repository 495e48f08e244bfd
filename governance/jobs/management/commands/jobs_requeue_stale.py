"""`manage.py jobs_requeue_stale [--older-than SECONDS]`: the periodic sweep, run by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from governance.jobs.services import job_requeue_stale


class Command(BaseCommand):
    help = "Re-send running jobs whose worker stopped beating; fail those that used up their attempts."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=None,
                            help="Heartbeat age in seconds (default: JOB_STALE_AFTER_S).")

    def handle(self, *args, older_than=None, **options):
        outcome = job_requeue_stale(older_than_s=older_than)
        self.stdout.write(f"re-queued {len(outcome['requeued'])} job(s) {outcome['requeued']}; "
                          f"failed {len(outcome['failed'])} job(s) {outcome['failed']}")
