"""No job lost, none duplicated, when worker processes die: real Redis, real `celery worker` processes.

Which work: real audits (`governance.run_audit`, the production task, service and stores) of a tiny
from-scratch Transformer on a 16-row held-out dataset with `explain_rows=0`. One such audit takes a few
tenths of a second of inference, bootstrap fairness and storage, so 100 of them per scenario fit the
suite's time budget, while each is long enough to be killed mid-task; a dedicated "light" job kind would
have tested a code path that production does not run. Scenario (c) adds two audits of the 2,400-row
dataset of (d) (several seconds each), so that one outlasts the soft-shutdown grace period (2 s here).
The same test also shows the scale-out routing (a `gpu` and a `default` worker, each consuming only its
queue).

Scenarios, each on a fresh batch of 100 audits (figures printed with `-s`):
  (a) SIGKILL of a pool child while it runs an audit: the main process rejects the message back to the
      queue (reject_on_worker_lost) and another child takes it over (attempt 2);
  (b) SIGKILL of the main worker process together with its pool (a crashed container), then a new worker:
      the unacknowledged messages come back after the broker's visibility timeout (35 s here);
  (c) a deploy: SIGTERM (Celery's soft shutdown, REMAP_SIGTERM=SIGQUIT) while the worker fetches and runs,
      just as a long audit (2,400 rows, several seconds) has started: the short audit in the other child
      finishes within the grace period, the long one outlasts it, is cancelled, its job marked handed back
      and its message restored to the queue before the worker exits (not after the visibility timeout);
      a new worker runs it again (attempt 2, not charged toward JOB_MAX_ATTEMPTS) and finishes the rest;
  (d) a poison job whose worker dies every time it runs it: after JOB_MAX_ATTEMPTS it ends failed
      (recorded once on the audit and in the audit log) instead of being redelivered forever.
Each time: 100 complete, 0 lost, 0 duplicated result rows, predictions or audit-log entries.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import json

import pytest
import redis
from django.db.models import Count, Sum
from django.utils import timezone

from governance.audits.models import Audit, AuditResult, Prediction
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.jobs.models import Job
from governance.registry.models import ModelVersion
from governance.registry.services import model_version_request_training
from tests.e2e.conftest import wait_for
from tests.e2e.worker_processes import FAST_REDELIVERY_ENV, SOFT_SHUTDOWN_S, WorkerProcess
from tests.factories import make_user, upload_hiring

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BATCH = 100
HOLDOUT_ROWS = 16
LONG_ROWS = 2400
VISIBILITY_TIMEOUT_S = int(FAST_REDELIVERY_ENV["CELERY_VISIBILITY_TIMEOUT_S"])


def _audit_jobs(audit_ids) -> list[Job]:
    return list(Job.objects.filter(kind="audit", subject_id__in=audit_ids))


def _batch(engineer, version, holdout, *, long=None, long_at=()) -> list[int]:
    """BATCH audits on `holdout`, except those at the positions `long_at`, which audit `long` instead."""
    return [audit_request(actor=engineer, model_version=version, dataset_version=long if i in long_at else holdout,
                          explain_rows=0).pk for i in range(BATCH)]


def _completed(audit_ids) -> int:
    return Audit.objects.filter(pk__in=audit_ids, status="complete").count()


def _figures(audit_ids) -> dict:
    """What a regulator would check after the incident: every audit done exactly once."""
    results = AuditResult.objects.filter(audit_id__in=audit_ids)
    kinds_per_audit = Counter(results.values_list("audit_id", flat=True))  # the same for every audit
    kinds_dup = sum(n - 1 for n in results.values("audit_id", "kind").annotate(n=Count("id"))
                    .filter(n__gt=1).values_list("n", flat=True))
    preds = Prediction.objects.filter(audit_id__in=audit_ids)
    preds_dup = preds.values("audit_id", "record_id").annotate(n=Count("id")).filter(n__gt=1).count()
    ids = [str(a) for a in audit_ids]
    logs = Counter(AuditLogEntry.objects.filter(object_type="audits.audit", object_id__in=ids,
                                                action="audit.completed").values_list("object_id", flat=True))
    attempts = Counter(j.attempts for j in _audit_jobs(audit_ids))
    return {"completed": _completed(audit_ids), "lost": len(audit_ids) - _completed(audit_ids),
            "duplicated_result_rows": kinds_dup, "result_rows_per_audit": sorted(set(kinds_per_audit.values())),
            "duplicated_predictions": preds_dup + max(0, preds.count() - _rows_audited(audit_ids)),
            "duplicated_log_entries": sum(n - 1 for n in logs.values() if n > 1),
            "audits_without_log_entry": len(audit_ids) - len(logs),
            "attempts": dict(sorted(attempts.items()))}


def _rows_audited(audit_ids) -> int:
    return Audit.objects.filter(pk__in=audit_ids).aggregate(n=Sum("dataset_version__row_count"))["n"]


def _queued_task_ids(client: redis.Redis, queue: str) -> set[str]:
    """The task ids of the messages waiting in a Redis queue (kombu keeps each message as JSON in a list)."""
    return {json.loads(raw)["headers"]["id"] for raw in client.lrange(queue, 0, -1)}


def _assert_exactly_once(name: str, audit_ids, worker) -> dict:
    wait_for(lambda: _completed(audit_ids) == len(audit_ids), timeout=240, what=f"{name}: all audits", proc=worker)
    figures = _figures(audit_ids)
    print(f"\n[{name}] {figures}")
    assert figures["completed"] == BATCH and figures["lost"] == 0, figures
    assert figures["duplicated_result_rows"] == 0 and figures["duplicated_predictions"] == 0, figures
    assert len(figures["result_rows_per_audit"]) == 1, figures
    assert figures["duplicated_log_entries"] == 0 and figures["audits_without_log_entry"] == 0, figures
    assert all(j.status == "complete" for j in _audit_jobs(audit_ids))
    return figures


def _pid_of(job: Job) -> int:
    return int(job.worker.rsplit(":", 1)[1])


def _poll(predicate, *, timeout: float, what: str, worker: WorkerProcess):
    """wait_for at 20 ms: a kill must land while a sub-second task still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}\n{worker.log()[-3000:]}")


def _kill_a_child_mid_audit(worker: WorkerProcess, audit_ids) -> tuple[Job, float]:
    """SIGKILL the pool child that the database says is running one of these audits right now."""
    def running():
        pool = worker.pool_pids()
        for job in Job.objects.filter(kind="audit", subject_id__in=audit_ids, status="running").exclude(worker=""):
            if _pid_of(job) in pool:
                return job
        return None

    job = _poll(running, timeout=60, what="an audit running in a pool child", worker=worker)
    os.kill(_pid_of(job), signal.SIGKILL)
    return job, time.time()


def _redelivered_or_finished_first(job: Job, killed_at: float) -> bool:
    """The killed audit came back for a second attempt, unless it had committed in the few milliseconds
    between the database read and the kill (then the child died on the next audit, which came back)."""
    job.refresh_from_db()
    return job.attempts == 2 or (job.attempts == 1 and job.finished_at.timestamp() <= killed_at)


def test_jobs_survive_dead_workers_exactly_once_and_a_poison_job_ends_failed(transactional_db, settings, tmp_path):
    started = time.monotonic()
    settings.JOB_DISPATCH = "celery"
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    workers: list[WorkerProcess] = []

    def worker(name, queues, concurrency=2):
        w = WorkerProcess(name=name, queues=queues, concurrency=concurrency, log_dir=tmp_path,
                          artifact_root=settings.ARTIFACT_ROOT)
        workers.append(w)
        return w

    try:
        # Scale-out: a `gpu` worker and a `default` worker, each taking only its own queue.
        gpu, default = worker("gpu", "gpu"), worker("default", "default", concurrency=1)
        engineer = make_user()
        train = upload_hiring(engineer, n_rows=60, seed=5)
        holdout = upload_hiring(engineer, n_rows=HOLDOUT_ROWS, seed=6)
        # Audits of it run for seconds: the long audits of (c), the poison job of (d).
        long_data = upload_hiring(engineer, n_rows=LONG_ROWS, seed=8)
        version = model_version_request_training(actor=engineer, model_name="tiny", dataset_version=train,
                                                 encoder="scratch", epochs=1)
        wait_for(lambda: ModelVersion.objects.filter(pk=version.pk, status__in=["ready", "failed"]).exists(),
                 timeout=180, what="training on the gpu worker", proc=gpu)
        version.refresh_from_db()
        assert version.status == "ready", version.error
        wait_for(lambda: Job.objects.filter(kind="datasheet", status="complete").count() == 3, timeout=120,
                 what="datasheets on the default worker", proc=default)
        assert Job.objects.get(kind="training").worker.startswith("gpu@")
        assert {j.worker.split("@")[0] for j in Job.objects.filter(kind="datasheet")} == {"default"}
        assert "governance.train_model_version[" not in default.log() and "build_datasheet[" not in gpu.log()
        default.sigterm()
        setup_s = time.monotonic() - started

        # (a) SIGKILL a pool child mid-audit, twice.
        t0, batch = time.monotonic(), _batch(engineer, version, holdout)
        wait_for(lambda: _completed(batch) >= 5, timeout=120, what="(a) first audits", proc=gpu)
        killed = [_kill_a_child_mid_audit(gpu, batch)]
        wait_for(lambda: _completed(batch) >= 40, timeout=120, what="(a) more audits", proc=gpu)
        killed.append(_kill_a_child_mid_audit(gpu, batch))
        figures_a = _assert_exactly_once("a: pool child SIGKILL", batch, gpu)
        assert all(_redelivered_or_finished_first(job, at) for job, at in killed), killed
        assert sum(n for a, n in figures_a["attempts"].items() if a >= 2) >= 1
        assert "WorkerLostError" in gpu.log()
        time_a = time.monotonic() - t0

        # (b) SIGKILL the main worker process (with its pool), start a new one.
        t0, batch = time.monotonic(), _batch(engineer, version, holdout)
        # kill while an audit runs, not in the gap between two (the batch's short audits leave such gaps)
        wait_for(lambda: _completed(batch) >= 10 and any(j.status == "running" for j in _audit_jobs(batch)),
                 timeout=120, what="(b) first audits and one running", proc=gpu)
        gpu.kill_all()
        in_flight = [j.pk for j in _audit_jobs(batch) if j.status == "running"]
        assert in_flight, "nothing was running when the worker died"
        gpu2 = worker("gpu2", "gpu")
        figures_b = _assert_exactly_once("b: main worker SIGKILL + restart", batch, gpu2)
        assert all(Job.objects.get(pk=pk).attempts == 2 for pk in in_flight), in_flight
        assert all(Job.objects.get(pk=pk).worker.startswith("gpu2@") for pk in in_flight)
        time_b = time.monotonic() - t0

        # (c) A deploy: SIGTERM while the worker fetches and runs, just as it starts a long audit; a new worker.
        t0, long_at = time.monotonic(), {20, 50}
        batch = _batch(engineer, version, holdout, long=long_data, long_at=long_at)
        long_ids = {batch[i] for i in long_at}
        interrupted = _poll(lambda: Job.objects.filter(kind="audit", subject_id__in=long_ids, status="running",
                                                       worker__startswith="gpu2@").first(),
                            timeout=180, what="(c) a long audit running on gpu2", worker=gpu2)
        sigterm_at, sigterm_wall = time.monotonic(), timezone.now()
        gpu2.sigterm()
        shutdown_s = time.monotonic() - sigterm_at
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        in_queue, unacked = _queued_task_ids(broker, "gpu"), broker.hlen("unacked")
        done_by_first = _completed(batch)
        in_grace = Job.objects.filter(kind="audit", subject_id__in=batch, worker__startswith="gpu2@",
                                      finished_at__gte=sigterm_wall).count()
        handed_back_jobs = list(Job.objects.filter(kind="audit", subject_id__in=batch, handed_back__gt=0))
        # Handed back before the worker exited: counted on the rows, which stay running on gpu2 (so the
        # stale-job sweep would still re-send them had the worker been killed before restoring the messages);
        # every job left running is one of them; the messages back in the queue at once, nothing waiting in
        # Redis' unacked set for a visibility timeout.
        assert interrupted.pk in {j.pk for j in handed_back_jobs}, (interrupted, gpu2.log()[-3000:])
        assert all(j.status == "running" and j.handed_back == 1 and j.attempts == 1
                   and j.worker.startswith("gpu2@") for j in handed_back_jobs), handed_back_jobs
        still_running = Job.objects.filter(kind="audit", subject_id__in=batch, status="running")
        assert set(still_running.values_list("pk", flat=True)) == {j.pk for j in handed_back_jobs}
        assert {j.delivery for j in handed_back_jobs} <= in_queue and unacked == 0, (in_queue, unacked)
        deliveries = {j.pk: j.delivery for j in handed_back_jobs}
        assert shutdown_s < SOFT_SHUTDOWN_S + 20, shutdown_s  # bounded: not the long audit's whole run
        gpu3 = worker("gpu3", "gpu")
        ready_at = time.monotonic()
        wait_for(lambda: Job.objects.filter(pk=interrupted.pk, worker__startswith="gpu3@").exists(), timeout=60,
                 what="(c) the handed-back audit taken up again", proc=gpu3)
        retaken_s = time.monotonic() - ready_at
        assert retaken_s < VISIBILITY_TIMEOUT_S / 2, retaken_s
        figures_c = _assert_exactly_once("c: SIGTERM (soft shutdown) + restart", batch, gpu3)
        assert sum(n for a, n in figures_c["attempts"].items() if a >= 2) >= 1, figures_c  # redelivered
        for job in handed_back_jobs:
            job.refresh_from_db()
            assert job.attempts == 2 and job.handed_back == 1 and job.worker.startswith("gpu3@"), job
            assert job.delivery == deliveries[job.pk], job  # the restored message, not a sweep's re-send
        handed_back = gpu2.received() - gpu2.succeeded()  # every message it held came back to gpu3
        assert handed_back <= gpu3.received()
        time_c = time.monotonic() - t0

        # (d) A job that kills its worker every time: stopped after JOB_MAX_ATTEMPTS, marked failed once.
        t0 = time.monotonic()
        poison = audit_request(actor=engineer, model_version=version, dataset_version=long_data, explain_rows=0)
        poison_job = Job.objects.get(kind="audit", subject_id=poison.pk)
        for attempt in range(1, settings.JOB_MAX_ATTEMPTS + 1):
            job = _poll(lambda: Job.objects.filter(pk=poison_job.pk, status="running", attempts=attempt)
                        .exclude(worker="").first(), timeout=90, what=f"(d) attempt {attempt}", worker=gpu3)
            os.kill(_pid_of(job), signal.SIGKILL)
        wait_for(lambda: Audit.objects.filter(pk=poison.pk, status="failed").exists(), timeout=90,
                 what="(d) the poison audit marked failed", proc=gpu3)
        poison_job.refresh_from_db()
        assert poison_job.status == "failed" and poison_job.attempts == settings.JOB_MAX_ATTEMPTS
        assert poison_job.error.startswith("Gave up after 3 attempts")
        assert not AuditResult.objects.filter(audit=poison).exists()
        assert AuditLogEntry.objects.filter(object_id=str(poison.pk), action="audit.failed").count() == 1
        after = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0)
        wait_for(lambda: Audit.objects.filter(pk=after.pk, status="complete").exists(), timeout=60,
                 what="(d) the worker still works", proc=gpu3)
        time_d = time.monotonic() - t0
        assert audit_log_verify().ok
        print(f"\n[times] setup {setup_s:.0f}s, a {time_a:.0f}s, b {time_b:.0f}s, c {time_c:.0f}s "
              f"(SIGTERM to exit {shutdown_s:.1f}s with a {SOFT_SHUTDOWN_S:.0f}s grace; the "
              f"first worker finished {done_by_first}, {in_grace} of them in the grace period, and handed "
              f"back {len(handed_back)} messages, {len(handed_back_jobs)} of them cut short; the new worker "
              f"took the cut-short audit up {retaken_s:.1f}s after it was ready), d {time_d:.0f}s; "
              f"poison attempts {poison_job.attempts}")
    finally:
        for w in workers:
            w.close()

