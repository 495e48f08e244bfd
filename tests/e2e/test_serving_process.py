"""The separate serving process under load: a deployment change swaps the served version with no failed
request, and a process killed with SIGKILL loses no decision it answered."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from governance.serving.decision_queue import decisions_flush_all, queue
from governance.serving.models import Decision
from tests.e2e.serving_process import ServingProcess
from tests.governance.serving.served import artifacts, deploy, permissive, version_with_artifact  # noqa: F401

TEXTS = ["Nurse with ten years of experience, she led a ward.", "Python developer, led a team of five.",
         "Captain of the women's chess club, studied economics.", "Warehouse lead, forklift licence."]


@pytest.fixture
def serving_setup(transactional_db, permissive, artifacts):
    from governance.roles import REVIEWER
    from governance.serving.tokens import service_token_create
    from tests.factories import make_user

    client = queue()
    for key in client.scan_iter("serving:decisions:*"):
        client.delete(key)
    engineer, reviewer = make_user(), make_user(REVIEWER)
    v1 = version_with_artifact(engineer, artifacts[1])
    deploy(v1, engineer=engineer, reviewer=reviewer)
    _, token = service_token_create(actor=engineer, model=v1.model, environment="staging", name="load")
    return {"v1": v1, "engineer": engineer, "reviewer": reviewer, "token": token}


class Load:
    """`clients` threads posting batches until stopped; every answer (when its request started, status, version,
    decision ids) kept."""

    def __init__(self, url: str, token: str, *, clients: int, batch: int = 4):
        self.url, self.token, self.batch = url, token, batch
        self.answers: list[tuple[float, int, int | None, list[str]]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def _run(self) -> None:
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {self.token}"}) as client:
            while not self._stop.is_set():
                started = time.time()
                try:
                    r = client.post(self.url, json={"instances": [{"text": t, "subject_id": "load"}
                                                                 for t in TEXTS[:self.batch]]})
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                with self._lock:
                    self.answers.append((started, r.status_code, body.get("model_version"),
                                         [d["decision_id"] for d in body.get("decisions", [])]))

    def stop(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join(timeout=60)


def test_a_deployment_change_swaps_the_served_version_with_no_failed_request(serving_setup, tmp_path, artifacts):
    s = serving_setup
    process = ServingProcess(log_dir=tmp_path)
    try:
        load = Load(f"{process.url}/api/serve/{s['v1'].model_id}/staging/predict/", s["token"], clients=4)
        time.sleep(3)
        before_change = time.time()
        v2 = version_with_artifact(s["engineer"], artifacts[2], model=s["v1"].model)
        deploy(v2, engineer=s["engineer"], reviewer=s["reviewer"])  # committed: the process sees it now
        changed_at = time.time()
        time.sleep(8)
        load.stop()
    finally:
        process.stop()
    assert not load.errors, load.errors[:5]
    statuses = {status for _, status, _, _ in load.answers}
    assert statuses == {200}, (statuses, process.log()[-2000:])
    served = [(at, version) for at, _, version, _ in load.answers]
    assert {v for _, v in served} == {s["v1"].pk, v2.pk}
    # Within seconds of the change the requests are answered by v2, and every request started after the change
    # was committed and seen (the first request answered by v2) is answered by v2: v1 never comes back.
    first_v2 = min(at for at, v in served if v == v2.pk)
    assert first_v2 - changed_at < 15
    assert all(v == v2.pk for at, v in served if at >= first_v2)
    assert all(v == s["v1"].pk for at, v in served if at < before_change)


def test_a_killed_serving_process_loses_no_answered_decision(serving_setup, tmp_path):
    s = serving_setup
    process = ServingProcess(log_dir=tmp_path)
    load = Load(f"{process.url}/api/serve/{s['v1'].model_id}/staging/predict/", s["token"], clients=4)
    time.sleep(4)
    process.kill()  # SIGKILL mid-load: requests in flight fail, answered ones must all be logged
    load.stop()
    answered = {i for _, status, _, ids in load.answers if status == 200 for i in ids}
    assert len(answered) > 20, process.log()[-2000:]
    # A new serving process recovers what the dead one had queued or claimed, and flushes it.
    restarted = ServingProcess(log_dir=tmp_path, extra_env={"SERVING_RECOVER_AFTER_S": "0"})
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            logged = {str(i) for i in Decision.objects.filter(subject_id="load").values_list("id", flat=True)}
            if answered <= logged:
                break
            time.sleep(0.5)
    finally:
        restarted.stop()
    decisions_flush_all()
    logged = {str(i) for i in Decision.objects.filter(subject_id="load").values_list("id", flat=True)}
    assert answered <= logged, f"{len(answered - logged)} answered decisions missing from the log"
    assert len(logged) == Decision.objects.filter(subject_id="load").count()  # none written twice
