"""Erasure hook of the jobs app: a job's error message and progress detail may quote a row it read.

Called by the compliance app (an erasure, the retention purge) inside its transaction; never calls up.
"""

from __future__ import annotations

from governance.jobs.models import Job
from models_core.data.redaction import Traces, flatten, redact_json, redact_string


def jobs_redact(*, traces: Traces, replacement: str) -> int:
    """Redact the subject's texts and identifiers in every job's error and detail; returns the jobs changed."""
    n = 0
    for job in Job.objects.select_for_update().only("pk", "error", "detail").order_by("pk").iterator(chunk_size=500):
        if not traces.may_occur_in(job.error + "\n" + flatten(job.detail)):
            continue
        error, a = redact_string(job.error, traces, replacement)
        detail, b = redact_json(job.detail, traces, replacement)
        if a or b:
            Job.objects.filter(pk=job.pk).update(error=error, detail=detail)
            n += 1
    return n
