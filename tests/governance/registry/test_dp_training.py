"""Issue #16 point 2 through the dashboard: DP on reweighed data is refused at the door (API 400, form
error), and a DP version carries its full accounting to the API, the model card and the AI Act documentation.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from django.test import Client

from governance.auditlog.models import AuditLogEntry
from governance.compliance.documentation import annex_iv
from governance.datasets.services import dataset_version_reweigh
from governance.jobs.models import Job
from governance.registry.choices import VersionStatus
from governance.registry.mitigation import model_version_mitigate
from governance.registry.models import ModelVersion
from governance.registry.services import model_version_request_training
from models_core.training import privacy
from models_core.training.privacy import epsilon_from_record
from tests.factories import upload_hiring

pytestmark = pytest.mark.django_db(transaction=False)


def _reweighed(engineer):
    return dataset_version_reweigh(actor=engineer, version=upload_hiring(engineer))


def test_api_refuses_dp_on_a_reweighed_dataset_with_a_field_message(api_client, engineer):
    data = _reweighed(engineer)
    api_client.force_authenticate(engineer)
    versions, jobs = ModelVersion.objects.count(), Job.objects.count()
    response = api_client.post("/api/model-versions/", {"model_name": "dp-weighted", "dataset_version": data.pk,
                                                        "dp": True, "dp_epsilon": 3.0}, format="json")
    assert response.status_code == 400, response.content
    assert "sample weights" in response.json()["dp"][0]
    assert (ModelVersion.objects.count(), Job.objects.count()) == (versions, jobs)  # nothing half-written
    # The same data without DP is accepted: the weights are refused only where they break the accounting.
    plain = api_client.post("/api/model-versions/", {"model_name": "plain-weighted", "dataset_version": data.pk},
                            format="json")
    assert plain.status_code == 202, plain.content


def test_train_form_refuses_dp_on_a_reweighed_dataset_with_a_form_error(engineer):
    data = _reweighed(engineer)
    client = Client()
    client.force_login(engineer)
    response = client.post("/models/train/", {"model_name": "dp-form", "dataset_version": data.pk,
                                              "encoder": "pretrained", "freeze_encoder": "on", "epochs": 2,
                                              "seed": 0, "dp": "on", "dp_epsilon": 3})
    assert response.status_code == 400
    assert "sample weights" in response.context["form"].errors["dp"][0]
    assert not ModelVersion.objects.filter(model__name="dp-form").exists()


def test_dp_version_records_its_accounting_on_the_api_the_model_card_and_annex_iv(engineer, inline_jobs,
                                                                                   api_client, monkeypatch):
    drawn: list[int] = []
    real_randbits = secrets.randbits

    def spy(bits: int) -> int:  # the real OS-entropy draw, copied for the search below
        drawn.append(real_randbits(bits))
        return drawn[-1]

    monkeypatch.setattr(privacy.secrets, "randbits", spy)
    data = upload_hiring(engineer)
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="dp-card", dataset_version=data,
                                                 epochs=2, dp=True, dp_epsilon=3.0)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.error
    record = version.dp
    for key in ("epsilon", "delta", "noise_multiplier", "sample_rate", "steps", "accountant", "max_grad_norm",
                "opacus_version"):
        assert record[key] not in (None, ""), key
    assert record["epsilon"] <= 3.0 + 1e-6
    assert epsilon_from_record(record) == pytest.approx(record["epsilon"], rel=1e-6)
    assert version.metrics["best_epoch"] == 2 and len(version.history) == 2  # no selection, no early stop
    api_client.force_authenticate(engineer)
    assert api_client.get(f"/api/model-versions/{version.pk}/").json()["dp"] == record
    client = Client()
    client.force_login(engineer)
    page = client.get(f"/models/versions/{version.pk}/").content.decode()
    assert "What the guarantee covers" in page and "What it does not cover" in page
    assert str(record["noise_multiplier"]) in page and str(record["steps"]) in page
    assert "not a CSPRNG" in page and "validation split" in page
    assert "DP: ε =" in client.get(f"/models/{version.model_id}/").content.decode()
    development = annex_iv(version)["sections"]["2. Development: methods, data, validation"]
    assert development["methods"]["differential_privacy"] == record
    # A threshold-mitigated child keeps the parent's weights and so its record, plus what it adds uncovered.
    child = model_version_mitigate(actor=engineer, model_version=version, dataset_version=data,
                                   constraint="demographic_parity", attribute="gender")
    assert child.dp["epsilon"] == record["epsilon"]
    assert child.dp["does_not_cover"][:-1] == record["does_not_cover"]
    assert "group thresholds" in child.dp["does_not_cover"][-1]
    # The secret seeds of this run's noise and sampling are nowhere in what the registry stored: the
    # artifact's files, the version row, or the audit log's entries about it.
    assert len(drawn) == 2
    stored = b"".join(p.read_bytes() for p in sorted(Path(version.artifact_path).rglob("*")) if p.is_file())
    row = ModelVersion.objects.filter(pk=version.pk).values().get()
    stored += json.dumps(row, default=str).encode()
    stored += json.dumps(list(AuditLogEntry.objects.values_list("payload", flat=True)), default=str).encode()
    for seed in drawn:
        for needle in (str(seed).encode(), f"{seed:x}".encode(), seed.to_bytes(8, "little"),
                       seed.to_bytes(8, "big")):
            assert needle not in stored


def test_a_dp_record_from_before_per_run_noise_is_shown_as_void(engineer):
    version = model_version_request_training(actor=engineer, model_name="dp-legacy",
                                             dataset_version=upload_hiring(engineer), dp=True, dp_epsilon=3.0)
    # The shape trainer wrote before issue #16 (noise seeded from the stored training seed): such rows exist.
    legacy = {"epsilon": 2.99, "delta": 1e-5, "noise_multiplier": 1.4, "max_grad_norm": 1.0, "accountant": "prv",
              "steps": 18, "secure_mode": False, "target_epsilon": 3.0}
    ModelVersion.objects.filter(pk=version.pk).update(dp=legacy)
    client = Client()
    client.force_login(engineer)
    page = client.get(f"/models/versions/{version.pk}/").content.decode()
    assert "does not hold" in page and "What the guarantee covers" not in page
    assert "DP claim void" in client.get(f"/models/{version.model_id}/").content.decode()
