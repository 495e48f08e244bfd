"""Served models for the serving tests: real artifacts (the bundled MiniLM encoder with a seeded head,
saved as safetensors with their digest), ready versions with a completed audit, deployed through the
approvals workflow (request, a reviewer's approval) as in production."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.utils import timezone

from governance.registry.choices import VersionStatus
from governance.registry.models import Model, ModelVersion
from tests.factories import PASSWORD, make_user
from tests.governance.approvals.evidence import completed_audit, upload_hiring

LABELS = ["no", "yes"]


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> dict[int, tuple[Path, str]]:
    """Two artifacts (heads seeded 1 and 2): {seed: (directory, digest)}, shared by every test."""
    from models_core.encoder.artifacts import save_artifact
    from models_core.encoder.bundle import bundle_from_pretrained
    from models_core.encoder.pretrained import default_encoder_dir

    root = tmp_path_factory.mktemp("serving-artifacts")
    out = {}
    for seed in (1, 2):
        bundle = bundle_from_pretrained(default_encoder_dir(), num_labels=2, label_names=LABELS, seed=seed)
        directory = root / f"head-{seed}"
        out[seed] = (directory, save_artifact(bundle, directory, {"note": f"serving test head {seed}"}))
    return out


def version_with_artifact(engineer, artifact: tuple[Path, str], *, model: Model | None = None) -> ModelVersion:
    directory, digest = artifact
    if model is None:
        data = upload_hiring(engineer, n_rows=60, lawful_basis="consent", purposes="Hiring",
                             personal_data_categories="CV", dpia_reference="DPIA-1")
        model = Model.objects.create(project=data.dataset.project, name=f"served-{hashlib.md5(str(directory).encode()).hexdigest()[:6]}-{Model.objects.count()}",
                                     owner=engineer, intended_purpose="Screening job applications for interview")
    else:
        data = model.versions.first().dataset_version
    return ModelVersion.objects.create(model=model, version=model.versions.count() + 1, status=VersionStatus.READY,
                                       dataset_version=data, label_names=LABELS, artifact_path=str(directory),
                                       artifact_digest=digest, created_by=engineer, trained_at=timezone.now())


def deploy(version: ModelVersion, *, engineer, reviewer, environment: str = "staging"):
    """Request and approve the deployment of `version` (a permissive policy): returns the request."""
    from governance.approvals.services import deployment_request_approve, deployment_request_create

    audit = completed_audit(version)
    request = deployment_request_create(actor=engineer, model_version=version, environment=environment, audit=audit,
                                        justification="serving test")
    approved = deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    if environment == "production":  # production takes two reviewers
        from governance.roles import REVIEWER

        approved = deployment_request_approve(actor=make_user(REVIEWER), request_id=request.pk, password=PASSWORD)
    return approved


@pytest.fixture
def permissive(db):
    from governance.approvals.services import deployment_policy_update
    from governance.roles import COMPLIANCE_OFFICER

    officer = make_user(COMPLIANCE_OFFICER)
    for environment in ("staging", "production"):
        deployment_policy_update(actor=officer, environment=environment,
                                 required_approvals=2 if environment == "production" else 1,
                                 max_audit_age_days=None, require_explanations=False,
                                 require_dpia_for_personal_data=False, require_lawful_basis=False)
    return officer


@pytest.fixture
def served(db, permissive, engineer, reviewer, artifacts):
    """A model whose version 1 (head 1) is approved and deployed in staging, and a staging token for it."""
    from governance.serving.tokens import service_token_create

    version = version_with_artifact(engineer, artifacts[1])
    request = deploy(version, engineer=engineer, reviewer=reviewer)
    _, token = service_token_create(actor=engineer, model=version.model, environment="staging", name="intake")
    return {"version": version, "model": version.model, "request": request, "token": token,
            "engineer": engineer, "reviewer": reviewer, "officer": permissive}


def predict(client, model_id: int, token: str, texts, environment: str = "staging", **extra):
    instances = [t if isinstance(t, dict) else {"text": t} for t in texts]
    return client.post(f"/api/serve/{model_id}/{environment}/predict/", {"instances": instances}, format="json",
                       HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


@pytest.fixture(autouse=True)
def _fresh_serving_state(settings):
    """Each test starts with an empty write-ahead queue and no model held by this process."""
    from governance.serving import decision_queue
    from governance.serving.runtime import SERVED

    from governance.serving import services

    services._POLICY_CACHE.clear()  # a policy cached from a rolled-back test must not leak into the next
    client = decision_queue.queue()
    for key in client.scan_iter("serving:decisions:*"):
        client.delete(key)
    SERVED._held.clear()
    yield
    SERVED._held.clear()
