"""The models, model versions, deployments and pretrained encoders lists: pages, filters, ordering both ways,
400 on bad filters. No training: ready versions are stored as the worker stores them
(tests/governance/approvals/evidence.py), queued ones come from the training request."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_create)
from governance.registry.choices import EncoderChoice
from governance.registry.models import Deployment, Model, ModelVersion, PretrainedEncoder
from governance.registry.services import deployment_rollback, model_version_request_training
from tests.factories import PASSWORD, make_user
from tests.governance.api_lists import (assert_orders, assert_paginates, assert_refuses, ids, instant, listed)
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version

pytestmark = pytest.mark.django_db

MODELS, VERSIONS, DEPLOYMENTS, ENCODERS = ("/api/models/", "/api/model-versions/", "/api/deployments/",
                                           "/api/pretrained-encoders/")


def _encoder(engineer, name: str, description: str = "") -> PretrainedEncoder:
    # Stored as registration stores it (the folder's checks are tests/governance/registry/test_pretrained_encoders.py)
    return PretrainedEncoder.objects.create(name=name, description=description, directory=f"/nowhere/{name}",
                                            digest=hashlib.sha256(name.encode()).hexdigest(), uploaded_by=engineer)


@pytest.fixture
def registry(api_client, engineer):
    """Models a (v1, v2 ready), b (v1 ready, of another owner) and c (v1 queued, from a registered encoder,
    trained on b's data), created a day apart; api_client signed in as the engineer."""
    now = timezone.now()
    a1 = ready_version(engineer)
    a2 = next_version(a1)
    b1 = ready_version(make_user(ML_ENGINEER, username="olga"))
    minilm = _encoder(engineer, "minilm-legal", "Fine-tuned on contracts")
    bert = _encoder(engineer, "bert-tiny")
    c1 = model_version_request_training(actor=engineer, model_name="zeta-classifier",
                                        dataset_version=b1.dataset_version, encoder=EncoderChoice.REGISTERED,
                                        pretrained_encoder=minilm)
    for days, version in ((3, a1), (2, b1), (1, c1), (0, a2)):
        ModelVersion.objects.filter(pk=version.pk).update(created_at=now - timedelta(days=days))
        if version.version == 1:
            Model.objects.filter(pk=version.model_id).update(created_at=now - timedelta(days=days))
    PretrainedEncoder.objects.filter(pk=minilm.pk).update(created_at=now - timedelta(days=1))
    api_client.force_authenticate(engineer)
    return {"now": now, "a1": a1, "a2": a2, "b1": b1, "c1": c1, "minilm": minilm, "bert": bert}


def test_the_models_list_pages_filters_and_orders(api_client, registry):
    a, b, c = (registry[k].model for k in ("a1", "b1", "c1"))
    now = registry["now"]
    assert_paginates(api_client, MODELS)
    assert ids(api_client, MODELS) == sorted([a.pk, b.pk, c.pk], key=lambda pk: Model.objects.get(pk=pk).name)
    assert ids(api_client, MODELS, q="ZETA") == [c.pk]
    assert ids(api_client, MODELS, q="olg") == [b.pk]  # the owner
    assert ids(api_client, MODELS, owner="olga") == [b.pk]
    assert ids(api_client, MODELS, dataset=registry["b1"].dataset_version.dataset_id) == sorted([b.pk, c.pk])
    assert ids(api_client, MODELS, created_after=instant(now - timedelta(days=2, hours=1))) == sorted([b.pk, c.pk])
    assert ids(api_client, MODELS, created_before=instant(now - timedelta(days=2, hours=1))) == [a.pk]
    assert_orders(api_client, MODELS, "name")
    assert_orders(api_client, MODELS, "created_at")
    assert ids(api_client, MODELS, ordering="-latest_version")[0] == a.pk
    assert_refuses(api_client, MODELS, dataset="one", ordering="owner", created_after="soon", owner="x" * 151)


def test_the_model_versions_list_pages_filters_and_orders(api_client, registry):
    a1, a2, b1, c1 = (registry[k] for k in ("a1", "a2", "b1", "c1"))
    now = registry["now"]
    assert_paginates(api_client, VERSIONS)
    assert ids(api_client, VERSIONS) == [a2.pk, c1.pk, b1.pk, a1.pk]  # newest first
    assert ids(api_client, VERSIONS, model=a1.model_id) == [a2.pk, a1.pk]
    assert ids(api_client, VERSIONS, status="queued") == [c1.pk]
    assert ids(api_client, VERSIONS, status="ready", model=b1.model_id) == [b1.pk]
    assert ids(api_client, VERSIONS, dataset_version=b1.dataset_version_id) == [c1.pk, b1.pk]
    assert ids(api_client, VERSIONS, dataset=a1.dataset_version.dataset_id) == [a2.pk, a1.pk]
    assert ids(api_client, VERSIONS, pretrained_encoder=registry["minilm"].pk) == [c1.pk]
    assert ids(api_client, VERSIONS, created_after=instant(now - timedelta(hours=12))) == [a2.pk]
    assert ids(api_client, VERSIONS, created_before=instant(now - timedelta(days=2, hours=12))) == [a1.pk]
    assert_orders(api_client, VERSIONS, "created_at")
    assert_orders(api_client, VERSIONS, "version")
    assert_orders(api_client, VERSIONS, "model", value=lambda row: row["model_name"])
    assert_orders(api_client, VERSIONS, "status")
    assert ids(api_client, VERSIONS, ordering="trained_at")[-1] == c1.pk  # never trained: last both ways
    assert ids(api_client, VERSIONS, ordering="-trained_at")[-1] == c1.pk
    assert_refuses(api_client, VERSIONS, model="x", status="done", dataset="-1", pretrained_encoder="1.5",
                   dataset_version="0", ordering="metrics", created_before="31/12/2026")


@pytest.fixture
def deployments(registry, engineer):
    """Staging: a1 then a2 approved (a1 ended), then rolled back to a1; production: b1."""
    officer, reviewers = make_user(COMPLIANCE_OFFICER), [make_user(REVIEWER), make_user(REVIEWER)]
    for environment, approvals in (("staging", 1), ("production", 2)):  # production needs two
        deployment_policy_update(actor=officer, environment=environment, required_approvals=approvals,
                                 max_audit_age_days=None, require_explanations=False,
                                 require_dpia_for_personal_data=False, require_lawful_basis=False)
    for key, environment in (("a1", "staging"), ("a2", "staging"), ("b1", "production")):
        version = registry[key]
        request = deployment_request_create(actor=engineer, model_version=version, environment=environment,
                                            audit=completed_audit(version), justification="pilot")
        for reviewer in reviewers[:2 if environment == "production" else 1]:
            deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    deployment_rollback(actor=engineer, model=registry["a1"].model, environment="staging", reason="a2 drifted")
    rows = {(d.model_version_id, d.kind): d for d in Deployment.objects.all()}
    assert len(rows) == 4
    return rows


def test_the_deployments_list_pages_filters_and_orders(api_client, registry, deployments):
    a1, a2, b1 = (registry[k] for k in ("a1", "a2", "b1"))
    approved_a1, approved_a2 = deployments[(a1.pk, "approved")], deployments[(a2.pk, "approved")]
    rollback, production = deployments[(a1.pk, "rollback")], deployments[(b1.pk, "approved")]
    assert_paginates(api_client, DEPLOYMENTS)
    assert ids(api_client, DEPLOYMENTS) == [rollback.pk, production.pk, approved_a2.pk, approved_a1.pk]
    assert ids(api_client, DEPLOYMENTS, environment="production") == [production.pk]
    assert ids(api_client, DEPLOYMENTS, kind="rollback") == [rollback.pk]
    assert ids(api_client, DEPLOYMENTS, model=a1.model_id) == [rollback.pk, approved_a2.pk, approved_a1.pk]
    assert ids(api_client, DEPLOYMENTS, model_version=a1.pk) == [rollback.pk, approved_a1.pk]
    assert ids(api_client, DEPLOYMENTS, active="true") == [rollback.pk, production.pk]
    assert ids(api_client, DEPLOYMENTS, active="false", environment="staging") == [approved_a2.pk, approved_a1.pk]
    assert ids(api_client, DEPLOYMENTS, started_after=instant(production.started_at)) == [rollback.pk, production.pk]
    assert ids(api_client, DEPLOYMENTS, started_before=instant(approved_a2.started_at)) == [approved_a1.pk]
    assert_orders(api_client, DEPLOYMENTS, "started_at")
    assert_orders(api_client, DEPLOYMENTS, "environment")
    assert ids(api_client, DEPLOYMENTS, ordering="ended_at")[:2] == [approved_a1.pk, approved_a2.pk]
    assert ids(api_client, DEPLOYMENTS, ordering="-ended_at")[:2] == [approved_a2.pk, approved_a1.pk]
    assert_refuses(api_client, DEPLOYMENTS, environment="qa", kind="manual", active="sometimes", model="a",
                   model_version="9" * 20, started_after="now", ordering="request")


def test_the_encoders_list_pages_filters_and_orders(api_client, registry):
    minilm, bert = registry["minilm"], registry["bert"]
    third = _encoder(registry["a1"].created_by, "roberta-small")
    assert_paginates(api_client, ENCODERS)
    assert ids(api_client, ENCODERS, "name") == ["bert-tiny", "minilm-legal", "roberta-small"]
    assert ids(api_client, ENCODERS, q="contracts") == [minilm.pk]  # the description
    assert ids(api_client, ENCODERS, q="BERT") == [bert.pk, third.pk]
    assert ids(api_client, ENCODERS, digest=bert.digest) == [bert.pk]
    assert ids(api_client, ENCODERS, created_before=instant(registry["now"] - timedelta(hours=1))) == [minilm.pk]
    assert ids(api_client, ENCODERS, created_after=instant(registry["now"] - timedelta(hours=1)),
               ordering="-name") == [third.pk, bert.pk]
    assert_orders(api_client, ENCODERS, "name")
    assert_orders(api_client, ENCODERS, "created_at")
    assert_orders(api_client, ENCODERS, "used_by")
    assert listed(api_client, ENCODERS, ordering="-used_by")["results"][0]["used_by"] == 1
    assert_refuses(api_client, ENCODERS, digest="abc", ordering="digest", created_after="0", page_size="501")
    assert listed(api_client, ENCODERS, q="", digest="", page_size="")["count"] == 3  # empty: no filter
