"""The models a serving process holds in memory, and the background threads that keep them current.

`SERVED` maps each (model, environment) this process has answered for to the loaded version. A request
resolves its target from the database first (resolution.py); when the target names another version than the
one held (a deployment changed), that request loads it (others for the same key wait on the key's lock, none
fails) and the new version replaces the old. The poller (started by the serving process, governance/
serving_wsgi.py) checks every SERVING_POLL_S seconds which versions serve now and loads a new one before
any request needs it, so a deployment change swaps the served version within seconds without a slow or
failed request; it also forgets versions that no longer serve. Every load checks the artifact's SHA-256
against the registry (models_core.encoder.artifacts.load_artifact): a mismatch is refused, never served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from governance.registry.artifact_store import artifact_local_dir
from governance.serving.resolution import ServingRefused, ServingTarget, serving_targets_current
from models_core.encoder.artifacts import load_artifact
from models_core.encoder.bundle import ClassifierBundle
from models_core.errors import ArtifactError
from models_core.serve import Decisions, decide

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    model_version_id: int
    artifact_digest: str
    bundle: ClassifierBundle
    mitigation: Mapping[str, Any] | None
    loaded_at: float

    def decide(self, texts: Sequence[str], groups: Mapping[str, Sequence[Any]] | None) -> Decisions:
        with _INFERENCE_SLOTS:
            return decide(self.bundle, texts, mitigation=self.mitigation, groups=groups)


# Forward passes running at once in this process. Each uses torch's intra-op threads (every core), so a
# second one only competes for the same cores; the other request threads meanwhile parse, authorise and log.
_INFERENCE_SLOTS = threading.BoundedSemaphore(max(1, int(settings.SERVING_INFERENCE_SLOTS)))


class ArtifactRefused(ServingRefused):
    """The artifact on disk is not the one the registry approved (digest mismatch, missing, unreadable)."""


def load_model(*, model_version_id: int, artifact_path: str, artifact_digest: str) -> LoadedModel:
    try:
        bundle, metadata = load_artifact(artifact_local_dir(artifact_path=artifact_path),
                                         expected_digest=artifact_digest)
    except (ArtifactError, OSError) as exc:
        raise ArtifactRefused(f"The artifact of model version #{model_version_id} failed its check and is not "
                              f"served: {exc}") from exc
    return LoadedModel(model_version_id=model_version_id, artifact_digest=artifact_digest, bundle=bundle,
                       mitigation=metadata.get("mitigation"), loaded_at=time.time())


class ModelCache:
    def __init__(self) -> None:
        self._held: dict[tuple[int, str], LoadedModel] = {}
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: tuple[int, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, target: ServingTarget) -> LoadedModel:
        key = (target.model_id, target.environment)
        held = self._held.get(key)
        if held is not None and held.model_version_id == target.model_version_id \
                and held.artifact_digest == target.artifact_digest:
            return held
        with self._lock(key):
            held = self._held.get(key)
            if held is None or held.model_version_id != target.model_version_id \
                    or held.artifact_digest != target.artifact_digest:
                held = self._load(target.model_version_id, target.artifact_path, target.artifact_digest)
                self._held[key] = held  # one assignment: a concurrent reader sees the old or the new, never half
            return held

    def _load(self, model_version_id: int, artifact_path: str, artifact_digest: str) -> LoadedModel:
        for other in list(self._held.values()):  # the same version served in another environment: share it
            if other.model_version_id == model_version_id and other.artifact_digest == artifact_digest:
                return other
        loaded = load_model(model_version_id=model_version_id, artifact_path=artifact_path,
                            artifact_digest=artifact_digest)
        log.info("serving: loaded model version #%s (%s)", model_version_id, artifact_digest[:12])
        return loaded

    def held(self) -> dict[tuple[int, str], int]:
        return {key: m.model_version_id for key, m in self._held.items()}

    def refresh(self) -> None:
        """Load the versions that serve now for the keys held, and forget the ones that no longer serve."""
        from governance.registry.models import ModelVersion

        keys = list(self._held)
        if not keys:
            return
        current = serving_targets_current(model_ids={m for m, _ in keys})
        versions = {v.pk: v for v in ModelVersion.objects.filter(pk__in=set(current.values()))}
        for key in keys:
            version = versions.get(current.get(key))
            if version is None:
                self._held.pop(key, None)
                continue
            held = self._held.get(key)
            if held is None or held.model_version_id != version.pk or held.artifact_digest != version.artifact_digest:
                with self._lock(key):
                    try:
                        self._held[key] = self._load(version.pk, version.artifact_path, version.artifact_digest)
                    except ServingRefused as exc:
                        log.error("serving: %s", exc)
                        self._held.pop(key, None)


SERVED = ModelCache()


def _loop(name: str, interval_s: float, step) -> None:
    while True:
        time.sleep(interval_s)
        try:
            close_old_connections()
            step()
        except Exception:  # a background thread must outlive a database or Redis hiccup; the next round retries
            log.exception("serving: %s round failed", name)
            connection.close()


def torch_threads_set(threads: int) -> None:
    """Intra-op threads of each forward pass (0 keeps torch's default, one per core). On a machine shared with
    other busy processes fewer threads spin less: bench/README.md "## Serving"."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def background_threads_start() -> list[threading.Thread]:
    """The serving process's poller (deployment changes) and flusher (write-ahead queue -> PostgreSQL)."""
    from governance.serving.decision_queue import decisions_flush_all

    threads = [threading.Thread(target=_loop, args=("poller", settings.SERVING_POLL_S, SERVED.refresh),
                                name="serving-poller", daemon=True),
               threading.Thread(target=_loop, args=("flusher", settings.SERVING_FLUSH_INTERVAL_S, decisions_flush_all),
                                name="serving-flusher", daemon=True)]
    for thread in threads:
        thread.start()
    return threads
