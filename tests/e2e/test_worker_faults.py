"""No job lost, none duplicated, when worker processes die: real Redis, real `celery worker` processes.

Which work: real audits (`governance.run_audit`, the production task, service and stores) of a tiny
from-scratch Transformer on a 16-row held-out dataset with `explain_rows=0`. One such audit takes a few
tenths of a second of inference, bootstrap fairness and storage, so 100 of them per scenario fit the
suite's time budget, while each is long enough to be killed mid-task; a dedicated "light" job kind would
have tested a code path that production does not run. The same test also shows the scale-out routing
(a `gpu` and a `default` worker, each consuming only its queue).

Scenarios, each on a fresh batch of 100 audits (figures printed with `-s`):
  (a) SIGKILL of a pool child while it runs an audit: the main process rejects the message back to the
      queue (reject_on_worker_lost) and another child takes it over (attempt 2);
  (b) SIGKILL of the main worker process together with its pool (a crashed container), then a new worker:
      the unacknowledged messages come back after the broker's visibility timeout (35 s here);
  (c) a warm shutdown (SIGTERM) while the worker is fetching and running: tasks in hand finish, nothing
      is started twice, a new worker finishes the rest;
  (d) a poison job whose worker dies every time it runs it: after JOB_MAX_ATTEMPTS it ends failed
      (recorded once on the audit and in the audit log) instead of being redelivered forever.
Each time: 100 complete, 0 lost, 0 duplicated result rows, predictions or audit-log entries.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
import redis
from django.db.models import Count

from governance.audits.models import Audit, AuditResult, Prediction
from governance.audits.services import audit_request
from governance.compliance.models import AuditLogEntry
from governance.compliance.selectors import audit_log_verify
from governance.jobs.models import Job
from governance.registry.models import ModelVersion
from governance.registry.services import model_version_request_training
from tests.e2e.conftest import wait_for
from tests.e2e.worker_processes import WorkerProcess
from tests.factories import make_user, upload_hiring

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BATCH = 100
HOLDOUT_ROWS = 16


def _audit_jobs(audit_ids) -> list[Job]:
    return list(Job.objects.filter(kind="audit", subject_id__in=audit_ids))


def _batch(engineer, version, holdout) -> list[int]:
    return [audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0).pk
            for _ in range(BATCH)]


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
            "duplicated_predictions": preds_dup + max(0, preds.count() - len(audit_ids) * HOLDOUT_ROWS),
            "duplicated_log_entries": sum(n - 1 for n in logs.values() if n > 1),
            "audits_without_log_entry": len(audit_ids) - len(logs),
            "attempts": dict(sorted(attempts.items()))}


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
        poison_data = upload_hiring(engineer, n_rows=1200, seed=8)
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
        default.warm_shutdown()
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
        wait_for(lambda: _completed(batch) >= 10, timeout=120, what="(b) first audits", proc=gpu)
        gpu.kill_all()
        in_flight = [j.pk for j in _audit_jobs(batch) if j.status == "running"]
        assert in_flight, "nothing was running when the worker died"
        gpu2 = worker("gpu2", "gpu")
        figures_b = _assert_exactly_once("b: main worker SIGKILL + restart", batch, gpu2)
        assert all(Job.objects.get(pk=pk).attempts == 2 for pk in in_flight), in_flight
        assert all(Job.objects.get(pk=pk).worker.startswith("gpu2@") for pk in in_flight)
        time_b = time.monotonic() - t0

        # (c) Warm shutdown while the worker fetches and runs, then a new worker.
        t0, batch = time.monotonic(), _batch(engineer, version, holdout)
        wait_for(lambda: _completed(batch) >= 10, timeout=120, what="(c) first audits", proc=gpu2)
        gpu2.warm_shutdown()
        done_by_first = _completed(batch)
        assert not Job.objects.filter(kind="audit", subject_id__in=batch, status="running").exists()
        gpu3 = worker("gpu3", "gpu")
        figures_c = _assert_exactly_once("c: warm shutdown + restart", batch, gpu3)
        assert figures_c["attempts"] == {1: BATCH}  # a warm shutdown never runs anything twice
        handed_back = gpu2.received() - gpu2.succeeded()
        assert handed_back <= gpu3.received()
        time_c = time.monotonic() - t0

        # (d) A job that kills its worker every time: stopped after JOB_MAX_ATTEMPTS, marked failed once.
        t0 = time.monotonic()
        poison = audit_request(actor=engineer, model_version=version, dataset_version=poison_data, explain_rows=0)
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
              f"(first worker finished {done_by_first} before its warm shutdown, handed back "
              f"{len(handed_back)} fetched messages), d {time_d:.0f}s; poison attempts {poison_job.attempts}")
    finally:
        for w in workers:
            w.close()

