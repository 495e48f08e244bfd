"""Real `celery -A workers worker` processes for fault tests: start, find the pool, kill, stop, read logs.

Each worker runs in its own session (process group) so a test can kill the whole worker like a crashed
container, and teardown never leaves a pool child behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import ROOT, _worker_env

# Short broker timings so redelivery after a hard kill happens in seconds, keeping the production order
# soft time limit < hard time limit < visibility timeout (base settings refuse anything else).
FAST_REDELIVERY_ENV = {"CELERY_VISIBILITY_TIMEOUT_S": "35", "CELERY_TASK_TIME_LIMIT_S": "30",
                       "CELERY_TASK_SOFT_TIME_LIMIT_S": "25", "CELERY_UNACKED_RESTORE_INTERVAL_S": "1",
                       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# The production way of stopping a worker (README, "Running on several machines"): SIGTERM starts Celery's
# soft shutdown. A short grace period here, so that a test can outlast it with a long audit.
SOFT_SHUTDOWN_S = 2.0
SOFT_SHUTDOWN_ENV = {"REMAP_SIGTERM": "SIGQUIT", "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT_S": str(SOFT_SHUTDOWN_S)}


class WorkerProcess:
    def __init__(self, *, name: str, queues: str, concurrency: int, log_dir: Path, artifact_root: Path,
                 extra_env: dict | None = None):
        self.name, self.log_path = name, log_dir / f"{name}.log"
        env = {**_worker_env(queues, artifact_root), **FAST_REDELIVERY_ENV, **SOFT_SHUTDOWN_ENV, **(extra_env or {})}
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "workers", "worker", "-Q", queues,
             "-c", str(concurrency), "--prefetch-multiplier", "1", "-l", "INFO", "-n", f"{name}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 90
        while "ready." not in self.log():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n{self.log()[-3000:]}")
            time.sleep(0.3)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text()

    def pool_pids(self) -> set[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.pid)], capture_output=True, text=True).stdout
        return {int(p) for p in out.split()}

    def received(self) -> set[str]:
        return set(re.findall(r"Task [\w.]+\[([0-9a-f-]{36})\] received", self.log()))

    def succeeded(self) -> set[str]:
        return set(re.findall(r"Task [\w.]+\[([0-9a-f-]{36})\] succeeded", self.log()))

    def kill_all(self) -> None:
        """SIGKILL the main process and its pool at once (a crashed or OOM-killed container)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def sigterm(self, timeout: float = 60) -> None:
        """SIGTERM, as a deploy or a scale-down sends it, and wait for the exit. With REMAP_SIGTERM=SIGQUIT:
        stop fetching, give running tasks SOFT_SHUTDOWN_S to finish, cancel the rest, mark their jobs handed
        back and restore every unacknowledged message to the queue."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.sigterm(timeout=30)
        try:
            os.killpg(self.pid, signal.SIGKILL)  # any orphaned pool child
        except ProcessLookupError:
            pass
        self._log.close()
