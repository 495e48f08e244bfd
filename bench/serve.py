"""Serving benchmark: concurrent clients against the serving process on loopback, against the model called
directly in one process; and (--monitor-rows) the monitoring of a window of millions of logged decisions.

Sets up its own PostgreSQL database (`<DATABASE_URL's name>_serve_bench`, dropped afterwards) through the
services: a dataset, a model version whose artifact is the bundled MiniLM-L6 encoder with a seeded head (the
cost of a forward pass does not depend on the head's training), a real audit of it, a staging policy, a
request approved by a reviewer (so a deployment), a service token. Then:

1. Direct: `bundle.predict_proba` on batches of --batch texts, in this process: texts/s, measured for
   --seconds/2 before and again after the served run (the mean; a shared box's load drifts).
2. Served: `gunicorn governance.serving_wsgi -k gthread` (--workers x --threads) on a free port; --clients
   threads each keep one HTTP/1.1 connection and POST batches of --batch texts for --seconds after a warm-up.
   Every answer's decision ids are kept; a non-200 or a socket error counts as an error.
3. Nothing lost: after the run the decision log must hold every answered decision (the serving process
   flushes its write-ahead queue to PostgreSQL; the bench waits for it).

ratio = served texts/s / direct texts/s (the serving overhead: 1.0 costs nothing). Both sides run a forward
pass with the same torch intra-op threads (--torch-threads, default 1: on the shared 2-core box torch's
default of one thread per core spins against the other sessions' processes and runs 7x slower) and one
forward pass at a time (--slots, SERVING_INFERENCE_SLOTS); the serving process's HTTP, JSON, token and
deployment checks and queueing overlap with the forward passes of other requests.

Last line: RESULT serve p95_ms=<p95 latency> texts_per_s=<served> ratio=<served/direct> errors=<n> lost=<n>

With --monitor-rows N: N decisions for the deployment in one day (generated in PostgreSQL, 30% with an
outcome, two sensitive attributes), then one monitoring job of that day timed end to end (the GROUP BY, the
training data's counts, drift, fairness with 1,000 bootstrap replicates, the policy's checks, the store):
RESULT serve_monitor rows=<N> cells=<cells> seconds=<job> group_by_s=<the aggregation alone>

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/governance CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
     .venv/bin/python bench/serve.py [--clients 8] [--batch 16] [--seconds 30] [--monitor-rows 10000000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess  # nosec B404
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXTS = ["Registered nurse, eight years on a surgical ward; led a team of twelve and trained new staff.",
         "Software engineer: Python and Go, built payment APIs, mentored two juniors, on-call lead.",
         "Warehouse supervisor with a forklift licence; cut picking errors by a third in one year.",
         "Recent graduate in economics; captain of the chess club; internship at a regional bank.",
         "Primary school teacher for six years, then curriculum coordinator for the district.",
         "Sales manager, exceeded targets three years running, opened two new regional offices."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def _batch(n: int, offset: int) -> list[str]:
    return [f"{TEXTS[(offset + i) % len(TEXTS)]} Ref {offset + i}." for i in range(n)]


def _setup(artifact_root: Path) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from governance import roles
    from governance.accounts.services import user_create
    from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                               deployment_request_create)
    from governance.audits.services import audit_request
    from governance.datasets.services import dataset_upload
    from governance.registry.choices import VersionStatus
    from governance.registry.models import Model, ModelVersion
    from governance.serving.tokens import service_token_create
    from models_core.data.synthetic import SyntheticSpec, hiring_csv
    from models_core.encoder.artifacts import save_artifact
    from models_core.encoder.bundle import bundle_from_pretrained
    from models_core.encoder.pretrained import default_encoder_dir

    call_command("migrate", verbosity=0)
    settings.JOB_DISPATCH = "inline"
    password = secrets.token_urlsafe(16)
    engineer = user_create(username="serve-engineer", password=password, roles=[roles.ML_ENGINEER])
    reviewer = user_create(username="serve-reviewer", password=password, roles=[roles.REVIEWER])
    officer = user_create(username="serve-officer", password=password, roles=[roles.COMPLIANCE_OFFICER])
    with transaction.atomic():
        data = dataset_upload(actor=engineer, name="applicants", raw=hiring_csv(SyntheticSpec(n_rows=400, seed=1)).encode(),
                              file_name="applicants.csv", text_column="text", label_column="hired",
                              subject_column="subject_id", sensitive_attributes=["gender", "age_band"])
        holdout = dataset_upload(actor=engineer, name="holdout", raw=hiring_csv(SyntheticSpec(n_rows=120, seed=2)).encode(),
                                 file_name="holdout.csv", text_column="text", label_column="hired",
                                 subject_column="subject_id", sensitive_attributes=["gender", "age_band"])
    bundle = bundle_from_pretrained(default_encoder_dir(), num_labels=2, label_names=["no", "yes"], seed=7)
    directory = artifact_root / "serve-bench-v1"
    digest = save_artifact(bundle, directory, {"note": "bench/serve.py"})
    model = Model.objects.create(project=data.dataset.project, name="screener", owner=engineer,
                                 intended_purpose="Screening applications (benchmark)")
    version = ModelVersion.objects.create(model=model, version=1, status=VersionStatus.READY, dataset_version=data,
                                          label_names=["no", "yes"], artifact_path=str(directory),
                                          artifact_digest=digest, created_by=engineer, trained_at=timezone.now())
    with transaction.atomic():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    request = deployment_request_create(actor=engineer, model_version=version, environment="staging", audit=audit,
                                        justification="benchmark")
    deployment_request_approve(actor=reviewer, request_id=request.pk, password=password)
    _, token = service_token_create(actor=engineer, model=model, environment="staging", name="bench")
    return {"model": model.pk, "version": version, "token": token, "bundle": bundle, "officer": officer,
            "engineer": engineer, "deployment": version.deployments.get()}


def _direct(bundle, batch: int, seconds: float) -> float:
    bundle.predict_proba(_batch(batch, 0))  # warm
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        bundle.predict_proba(_batch(batch, n), batch_size=batch)
        n += batch
    return n / (time.perf_counter() - started)


def _client(port, path, token, batch, deadline, warm_until, out, lock, seed):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    i = seed * 100_000
    while time.perf_counter() < deadline:
        body = json.dumps({"instances": [{"text": t} for t in _batch(batch, i)]})
        i += batch
        started = time.perf_counter()
        ids, ok = [], False
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            ok = response.status == 200
            if ok:
                ids = [d["decision_id"] for d in json.loads(payload)["decisions"]]
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            out["ids"].extend(ids)
            if started >= warm_until:
                out["latency"].append(elapsed)
                out["texts"] += len(ids)
                out["errors"] += 0 if ok else 1
    conn.close()


def _served(args, setup: dict, artifact_root: Path) -> dict:
    port = _free_port()
    env = {**os.environ, "ARTIFACT_ROOT": str(artifact_root), "LOG_LEVEL": "WARNING", "SERVING_FLUSH_INTERVAL_S": "0.5",
           "SERVING_TORCH_THREADS": str(args.torch_threads), "SERVING_INFERENCE_SLOTS": str(args.slots)}
    command = [str(Path(sys.executable).parent / "gunicorn"), "governance.serving_wsgi", "-b", f"127.0.0.1:{port}",
               "-w", str(args.workers), "-k", "gthread", "--threads", str(args.threads), "--keep-alive", "30",
               "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # nosec B603
    path = f"/api/serve/{setup['model']}/staging/predict/"
    try:
        for _ in range(240):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", path, body=json.dumps({"instances": [{"text": TEXTS[0]}]}),
                             headers={"Authorization": f"Bearer {setup['token']}", "Content-Type": "application/json"})
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        out = {"ids": [], "latency": [], "texts": 0, "errors": 0}
        lock = threading.Lock()
        start = time.perf_counter()
        warm_until, deadline = start + args.warmup, start + args.warmup + args.seconds
        threads = [threading.Thread(target=_client, args=(port, path, setup["token"], args.batch, deadline,
                                                          warm_until, out, lock, n)) for n in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        measured = time.perf_counter() - warm_until
        out["texts_per_s"] = out["texts"] / measured
        # Nothing lost: wait until the serving process has flushed every answered decision.
        from governance.serving.models import Decision

        answered = set(out["ids"])
        deadline = time.time() + 120
        while True:
            logged = {str(i) for i in Decision.objects.filter(deployment_id=setup["deployment"].pk)
                      .values_list("id", flat=True).iterator(chunk_size=10_000)}
            out["lost"] = len(answered - logged)
            if not out["lost"] or time.time() > deadline:
                return out
            time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _monitor(rows: int, setup: dict) -> None:
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from governance.serving.decision_queue import partitions_ensure
    from governance.serving.models import MonitoringReport
    from governance.serving.monitoring import monitoring_request
    from governance.serving.monitoring_figures import window_cells
    from governance.serving.services import serving_policy_update

    serving_policy_update(actor=setup["officer"], environment="staging", n_boot=1000, max_psi=0.25,
                          fairness_rules=[{"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1,
                                           "judge_on": "upper"}])
    deployment = setup["deployment"]
    end = timezone.now().replace(microsecond=0)
    start = end - timedelta(days=1)
    partitions_ensure([start, end])
    started = time.perf_counter()
    with connection.cursor() as cursor:  # rows made in the database: the client is not what is measured
        cursor.execute(
            "INSERT INTO serving_decision (id, decided_at, project_id, model_id, model_version_id, deployment_id, "
            "environment, token_id, input_sha256, text, subject_id, attributes, predicted_label, probabilities) "
            "SELECT gen_random_uuid(), %(start)s + (g * 86399.0 / %(n)s) * interval '1 second', %(project)s, "
            "%(model)s, %(version)s, %(deployment)s, 'staging', NULL, md5(g::text) || md5(g::text), NULL, '', "
            "jsonb_build_object('gender', CASE WHEN g %% 2 = 0 THEN 'female' ELSE 'male' END, 'age_band', "
            "(ARRAY['18-29', '30-44', '45-64', '65+'])[1 + g %% 4]), "
            "CASE WHEN random() < CASE WHEN g %% 2 = 0 THEN 0.35 ELSE 0.5 END THEN 'yes' ELSE 'no' END, "
            "'{\"no\": 0.5, \"yes\": 0.5}'::jsonb FROM generate_series(1, %(n)s) g",
            {"start": start, "n": rows, "project": setup["version"].model.project_id, "model": setup["model"],
             "version": setup["version"].pk, "deployment": deployment.pk})
        cursor.execute(
            "INSERT INTO serving_decisionoutcome (decision_id, decided_at, deployment_id, label, recorded_at, "
            "recorded_by) SELECT id, decided_at, deployment_id, CASE WHEN random() < 0.8 THEN predicted_label "
            "ELSE 'yes' END, now(), 'bench' FROM serving_decision WHERE deployment_id = %(d)s AND random() < 0.3",
            {"d": deployment.pk})
        cursor.execute("ANALYZE serving_decision")
        cursor.execute("ANALYZE serving_decisionoutcome")
    print(f"{rows:,} decisions generated in {time.perf_counter() - started:.1f} s")
    attributes = ["gender", "age_band"]
    t0 = time.perf_counter()
    cells = window_cells(deployment_id=deployment.pk, start=start, end=end + timedelta(seconds=1),
                         attributes=attributes)
    group_by_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with transaction.atomic():
        report = monitoring_request(actor=setup["engineer"], deployment=deployment.pk, window="day",
                                    window_end=end + timedelta(seconds=1))
    seconds = time.perf_counter() - t0
    report = MonitoringReport.objects.get(pk=report.pk)
    assert report.decisions >= rows, (report.status, report.error, report.decisions)  # + the served ones
    print(f"monitoring job: status {report.status}, {report.decisions:,} decisions, {report.with_outcomes:,} with "
          f"outcomes, {len(cells)} cells; the GROUP BY alone {group_by_s:.1f} s")
    print(f"RESULT serve_monitor rows={rows} cells={len(cells)} seconds={seconds:.1f} group_by_s={group_by_s:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="intra-op threads of a forward pass, the same on both sides (0: torch's default)")
    parser.add_argument("--slots", type=int, default=1, help="forward passes the serving process runs at once")
    parser.add_argument("--monitor-rows", type=int, default=0, help="also time monitoring over this many decisions")
    args = parser.parse_args()

    from bench.scratch_db import scratch_database

    with scratch_database("serve_bench") as url, tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "governance.settings.test",
                           "ARTIFACT_ROOT": tmp, "JOB_DISPATCH": "inline"})
        if args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
        setup = _setup(Path(tmp))
        before = _direct(setup["bundle"], args.batch, args.seconds / 2)
        served = _served(args, setup, Path(tmp))
        after = _direct(setup["bundle"], args.batch, args.seconds / 2)
        direct = (before + after) / 2  # measured on both sides of the served run: the box's load drifts
        print(f"direct: {direct:.1f} texts/s (before {before:.1f}, after {after:.1f}; batches of {args.batch}, one "
              f"process, {args.torch_threads or 'default'} torch threads, {os.cpu_count()} CPUs)")
        latency = served["latency"]
        print(f"served: {args.clients} clients x batches of {args.batch}, {args.seconds:.0f} s after "
              f"{args.warmup:.0f} s warm-up, gunicorn gthread {args.workers} x {args.threads}: {len(latency)} requests, "
              f"{served['texts_per_s']:.1f} texts/s, p50={_percentile(latency, 50):.1f} ms "
              f"p95={_percentile(latency, 95):.1f} ms p99={_percentile(latency, 99):.1f} ms; "
              f"{len(served['ids'])} decisions answered, {served['lost']} missing from the log; "
              f"load average {os.getloadavg()[0]:.1f}")
        if args.monitor_rows:
            _monitor(args.monitor_rows, setup)
        print(f"RESULT serve p95_ms={_percentile(latency, 95):.1f} texts_per_s={served['texts_per_s']:.1f} "
              f"ratio={served['texts_per_s'] / direct:.2f} errors={served['errors']} lost={served['lost']}")


if __name__ == "__main__":
    main()
