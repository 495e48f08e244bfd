"""Load benchmark: 20 concurrent clients on the audit report page and an API list, on loopback.

Sets up its own PostgreSQL database (`<DATABASE_URL's name>_load_bench`, dropped afterwards) with what a
report needs — a dataset, a from-scratch model trained on it, a completed audit — through the services,
then serves the project with gunicorn under the production settings (DEBUG off, WhiteNoise, Redis cache and
cached sessions, the production API throttle). Each client is its own user (reviewer and ML engineer roles,
created in the set-up with a session and an API token) and keeps one HTTP/1.1 connection (reopened when the
server closes it); it alternates GET /audits/<id>/ (as a browser: its session cookie and the cookies the
server sets, csrftoken included) and GET /api/audits/ (as an API script: its token, no cookies) for --seconds
after a warm-up. Every request carries `X-Forwarded-Proto: https`, as from the TLS-terminating proxy that
production sits behind (SECURE_PROXY_SSL_HEADER), so HTTPS redirect, HSTS and secure cookies stay on. At the
rates measured each user makes ~5 API calls a second (~300/min), under the production 1200/min. A non-200
answer or a socket error counts as an error.

The clients are `wrk` (C, epoll: 20 keep-alive connections on one thread a core, a Lua script going round
the same users and requests and counting every non-200) when it is installed, else (or with --client python)
one Python thread per client.

Last line: RESULT load p95_ms=<p95 over all requests> errors=<count>

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/governance CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
     .venv/bin/python bench/load.py [--clients 20] [--seconds 30] [--worker-class sync] [--workers 3] [--threads 1]

Gunicorn: sync workers, one per core plus one (3 on the 2-core box; gunicorn's 2 x cores + 1 assumes
workers that mostly wait, and 4 measured slower). The work is CPU-bound Python: a second thread in a worker
only waits for the GIL, and gthread's keep-alive connections stay with the worker that accepted them, so 20
clients spread unevenly over the workers and the tail grows; a sync worker takes the next connection only
when idle, which queues them fairly (measured in bench/README.md "## Load"). A sync worker closes each
connection after its answer, and belongs behind a buffering proxy (nginx), as gunicorn's docs say.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import json
import os
import shutil
import secrets
import signal
import socket
import statistics
import subprocess  # nosec B404
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def _server_cpu_s(leader: int) -> float:
    """CPU seconds (user + system) of a process group: the gunicorn master and its workers."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # field 5 of /proc/<pid>/stat: process group id
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _setup(clients: int) -> tuple[int, list[tuple[str, str]]]:
    """A completed audit, and per client a user of its own with a session (the report page) and a token
    (the API), created with the test settings (fast password hashing)."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from governance import roles
    from governance.accounts.services import user_create
    from governance.audits.services import audit_request
    from governance.datasets.services import dataset_upload
    from governance.registry.services import model_version_request_training
    from models_core.data.synthetic import SyntheticSpec, hiring_csv

    call_command("migrate", verbosity=0)
    settings.JOB_DISPATCH = "inline"
    user = user_create(username="load", password="load-bench-pass-1", roles=[roles.ML_ENGINEER, roles.REVIEWER])

    def upload(name, n, seed):
        return dataset_upload(actor=user, name=name, raw=hiring_csv(SyntheticSpec(n_rows=n, seed=seed)).encode(),
                              file_name=f"{name}.csv", text_column="text", label_column="hired",
                              subject_column="subject_id", sensitive_attributes=["gender", "age_band"])

    from django.db import transaction

    with transaction.atomic():
        train = upload("train", 300, 1)
    with transaction.atomic():
        holdout = upload("holdout", 200, 2)
    with transaction.atomic():
        version = model_version_request_training(actor=user, model_name="load", dataset_version=train,
                                                 encoder="scratch", epochs=2)
    version.refresh_from_db()
    assert version.status == "ready", version.error
    audit_ids = []
    for _ in range(30):  # a realistic list: thirty audits, one of them the report under test
        with transaction.atomic():
            audit_ids.append(audit_request(actor=user, model_version=version, dataset_version=holdout,
                                           explain_rows=0).pk)
    credentials = []
    for n in range(clients):
        reader = user_create(actor=user, username=f"load-client-{n}", password=secrets.token_urlsafe(16),
                             roles=[roles.ML_ENGINEER, roles.REVIEWER])
        session = SessionStore()
        session["_auth_user_id"], session["_auth_user_backend"] = str(reader.pk), settings.AUTHENTICATION_BACKENDS[0]
        session["_auth_user_hash"] = reader.get_session_auth_hash()
        session.create()
        credentials.append((session.session_key, Token.objects.create(user=reader).key))
    return audit_ids[-1], credentials


class _Cookies:
    """What a browser keeps for the site: the cookies the server set (name -> value), sent back on each
    request. The benchmark stands for HTTPS behind a proxy, so Secure cookies are kept; expiry is ignored
    (a run lasts seconds), a Max-Age=0 or empty value deletes."""

    def __init__(self, **initial: str):
        self.values = dict(initial)

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.values.items())

    def update(self, response: http.client.HTTPResponse) -> None:
        for line in response.headers.get_all("Set-Cookie") or []:
            jar = http.cookies.SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if not morsel.value or morsel["max-age"] in ("0", 0):
                    self.values.pop(name, None)
                else:
                    self.values[name] = morsel.value


def _client(port, requests, deadline, warm_until, samples, errors, lock, served):
    """One user: `requests` is [(path, headers, cookie jar or None)], asked in turn."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    while time.perf_counter() < deadline:
        path, headers, cookies = requests[i % len(requests)]
        i += 1
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={**headers, "Cookie": cookies.header()} if cookies else headers)
            response = conn.getresponse()
            response.read()
            if cookies is not None:
                cookies.update(response)
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ok = False
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            served.append(1)
        if started >= warm_until:
            with lock:
                samples.setdefault(path, []).append(elapsed)
                if not ok:
                    errors[path] = errors.get(path, 0) + 1
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="gthread only")
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                        help="wrk (C, epoll; default when installed) or Python threads (one per client)")
    args = parser.parse_args()

    from bench.scratch_db import scratch_database

    with scratch_database("load_bench") as url:
        os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "governance.settings.test",
                           "SECRET_KEY": secrets.token_urlsafe(50),
                           # production settings need the audit log's key from the environment (issue 15)
                           "AUDIT_SIGNING_KEY": os.environ.get("AUDIT_SIGNING_KEY") or secrets.token_hex(32),
                           # and the compliance salt (issue 17)
                           "COMPLIANCE_SUBJECT_SALT": os.environ.get("COMPLIANCE_SUBJECT_SALT") or secrets.token_hex(32)})
        _measure(args)


def _measure(args: argparse.Namespace) -> None:
    """Set up the report's data, serve the project with gunicorn and time the clients; stop the server."""
    server = None
    try:
        audit_id, credentials = _setup(args.clients)
        port = _free_port()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "governance.settings.production", "DEBUG": "0",
               "ALLOWED_HOSTS": "127.0.0.1",
               "CACHE_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"), "LOG_LEVEL": "WARNING"}
        # Fixed argument lists, no shell: this interpreter and the venv's gunicorn.
        collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
        subprocess.run(collect, cwd=ROOT, env=env, check=True)  # nosec B603
        gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "governance.wsgi", "-b", f"127.0.0.1:{port}",
                    "-w", str(args.workers), "-k", args.worker_class, "--threads", str(args.threads),
                    "--keep-alive", "30", "--log-level", "warning"]
        server = subprocess.Popen(gunicorn, cwd=ROOT, env=env, start_new_session=True)  # nosec B603
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.25)
        proxy = {"X-Forwarded-Proto": "https"}  # TLS ends at the proxy in front (SECURE_PROXY_SSL_HEADER)
        per_client = [[(f"/audits/{audit_id}/", proxy, _Cookies(sessionid=session_key)),
                       ("/api/audits/", {**proxy, "Authorization": f"Token {token}", "Accept": "application/json"},
                        None)]
                      for session_key, token in credentials]
        for requests in per_client:  # fail fast on a broken page; each browser gets its csrftoken cookie
            for path, headers, cookies in requests:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", path, headers={**headers, "Cookie": cookies.header()} if cookies else headers)
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, (path, response.status, body[:500])
                if cookies is not None:
                    cookies.update(response)
                conn.close()
        if args.client == "wrk":
            _measure_wrk(args, port, server.pid, per_client)
            return
        samples: dict[str, list[float]] = {}
        errors: dict[str, int] = {}
        served: list[int] = []
        cpu_before, load_before = _server_cpu_s(server.pid), os.getloadavg()[0]
        lock = threading.Lock()
        start = time.perf_counter()
        warm_until, deadline = start + args.warmup, start + args.warmup + args.seconds
        threads = [threading.Thread(target=_client, args=(port, requests, deadline, warm_until, samples, errors, lock,
                                                         served))
                   for requests in per_client]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu_s = _server_cpu_s(server.pid) - cpu_before
        every = [v for values in samples.values() for v in values]
        total = sum(served)  # every request, warm-up included, as the CPU time is
        print(f"{args.clients} clients, {args.seconds:.0f} s after {args.warmup:.0f} s warm-up, gunicorn "
              f"{args.worker_class} {args.workers} workers x {args.threads} threads, {os.cpu_count()} CPUs")
        for path, values in samples.items():
            print(f"{path:22} n={len(values):6d}  {len(values) / args.seconds:7.1f} req/s  "
                  f"p50={_percentile(values, 50):7.1f} ms  p95={_percentile(values, 95):7.1f} ms  "
                  f"p99={_percentile(values, 99):7.1f} ms  errors={errors.get(path, 0)}")
        print(f"{'all':22} n={len(every):6d}  {len(every) / args.seconds:7.1f} req/s  "
              f"p50={_percentile(every, 50):7.1f} ms  p95={_percentile(every, 95):7.1f} ms  "
              f"p99={_percentile(every, 99):7.1f} ms  mean={statistics.fmean(every):.1f} ms")
        # Load-independent: the server's own CPU time per request (gunicorn master and workers).
        print(f"server CPU {cpu_s * 1000 / max(1, total):.1f} ms per request ; "
              f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"RESULT load p95_ms={_percentile(every, 95):.1f} errors={sum(errors.values())}")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


# Each wrk thread runs this script in its own Lua state: requests go round the users, each user's report
# page (as a browser: its cookies) and then its API list (as a script: its token); a non-200 is counted.
_WRK_SCRIPT = """
local users = cjson_users
local n = 0
bad = 0
function request()
  n = n + 1
  local user = users[(math.floor(n / 2) % #users) + 1]
  if n % 2 == 0 then
    return wrk.format("GET", user.report, user.report_headers)
  end
  return wrk.format("GET", user.api, user.api_headers)
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  for _, thread in ipairs(threads) do errors = errors + thread:get("bad") end
  io.write(string.format("WRK requests=%d errors=%d p50_us=%d p95_us=%d p99_us=%d mean_us=%d\\n",
    summary.requests, errors, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


def _lua(value) -> str:
    """A JSON-able value as a Lua table literal (strings via JSON escapes, which Lua 5.1 reads for these)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return json.dumps(value)


def _run_wrk(port: int, script: str, clients: int, seconds: float) -> dict[str, float]:
    threads = min(clients, os.cpu_count() or 1)
    command = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
               "-s", script, f"http://127.0.0.1:{port}/"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # nosec B603
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    return {k: float(v) for k, v in (pair.split("=") for pair in line.split()[1:])}


def _measure_wrk(args: argparse.Namespace, port: int, leader: int, per_client) -> None:
    """The same users and requests driven by wrk: `--clients` keep-alive connections over one thread a core."""
    users = [{"report": report, "report_headers": {**report_headers, "Cookie": cookies.header()},
              "api": api, "api_headers": api_headers}
             for (report, report_headers, cookies), (api, api_headers, _) in per_client]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_WRK_SCRIPT.replace("cjson_users", _lua(users)))
    try:
        warm = _run_wrk(port, f.name, args.clients, args.warmup)
        cpu_before, load_before = _server_cpu_s(leader), os.getloadavg()[0]
        run = _run_wrk(port, f.name, args.clients, args.seconds)
        cpu_s = _server_cpu_s(leader) - cpu_before
    finally:
        os.unlink(f.name)
    print(f"{args.clients} clients (wrk, {min(args.clients, os.cpu_count() or 1)} threads), {args.seconds:.0f} s after "
          f"{args.warmup:.0f} s warm-up ({warm['requests']:.0f} requests), gunicorn {args.worker_class} "
          f"{args.workers} workers x {args.threads} threads, {os.cpu_count()} CPUs")
    print(f"{'all':22} n={run['requests']:6.0f}  {run['requests'] / args.seconds:7.1f} req/s  "
          f"p50={run['p50_us'] / 1000:7.1f} ms  p95={run['p95_us'] / 1000:7.1f} ms  "
          f"p99={run['p99_us'] / 1000:7.1f} ms  mean={run['mean_us'] / 1000:.1f} ms  errors={run['errors']:.0f}")
    print(f"server CPU {cpu_s * 1000 / max(1, run['requests']):.1f} ms per request ; "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"RESULT load p95_ms={run['p95_us'] / 1000:.1f} errors={run['errors']:.0f}")


if __name__ == "__main__":
    main()
