"""Deployment evidence without training: a ready model version and completed audits with stored results.

The gates judge stored rows only, so these tests store the rows an audit would (the fairness report from the
real `models_core.fairness.report.fairness_report` on chosen predictions, with bootstrap intervals), skipping tens of
seconds of training per test; tests/governance/approvals/test_api.py keeps the end-to-end path with a trained
model. The dataset goes through the datasets service; model versions and audits are written as the
registry's and audits' workers write them.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta

from django.utils import timezone

from governance.audits.models import Audit, AuditResult, AuditStatus
from governance.audits.services import result_hash
from governance.auditlog.chain import canonical_json
from governance.registry.choices import VersionStatus
from governance.registry.models import Model, ModelVersion
from models_core.fairness.report import fairness_report
from tests.factories import upload_hiring

_counter = itertools.count(1)
PERSONAL = {"lawful_basis": "consent", "purposes": "Hiring", "personal_data_categories": "CV, gender",
            "dpia_reference": "DPIA-2026-001"}


def ready_version(engineer, *, personal: dict | None = None, confirmed: bool = True) -> ModelVersion:
    """`confirmed`: a compliance officer confirms the declared personal-data metadata (the DPIA and
    lawful-basis gates count it only then)."""
    data = upload_hiring(engineer, n_rows=60, **(PERSONAL if personal is None else personal))
    if confirmed:
        confirm_metadata(data.dataset)
    model = Model.objects.create(project=data.dataset.project, name=f"screener-{next(_counter)}", owner=engineer)
    digest = hashlib.sha256(f"artifact-{model.pk}".encode()).hexdigest()
    return ModelVersion.objects.create(model=model, version=1, status=VersionStatus.READY, dataset_version=data,
                                       label_names=["no", "yes"], artifact_digest=digest, created_by=engineer,
                                       trained_at=timezone.now())


def confirm_metadata(dataset):
    from governance.datasets.services import dataset_metadata_confirm
    from governance.roles import COMPLIANCE_OFFICER
    from tests.factories import make_user

    return dataset_metadata_confirm(actor=make_user(COMPLIANCE_OFFICER), dataset=dataset)


def predictions(*, n_per_group: int = 200, gap: float = 0.0, accuracy: float = 0.9):
    """Binary labels and predictions for two genders; men are selected at 0.5, women at 0.5 - gap."""
    y_true, y_pred, gender = [], [], []
    for group, rate in (("male", 0.5), ("female", 0.5 - gap)):
        positives = round(n_per_group * rate)
        preds = [1] * positives + [0] * (n_per_group - positives)
        wrong = round(n_per_group * (1 - accuracy))
        truth = [1 - p if i < wrong else p for i, p in enumerate(preds)]
        y_true += truth
        y_pred += preds
        gender += [group] * n_per_group
    return y_true, y_pred, {"gender": gender}


def completed_audit(version: ModelVersion, *, gap: float = 0.0, accuracy: float = 0.9, explanations: bool = True,
                    finished_days_ago: float = 0, n_per_group: int = 200, robustness: dict | None = None) -> Audit:
    y_true, y_pred, sensitive = predictions(n_per_group=n_per_group, gap=gap, accuracy=accuracy)
    measured = sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true)
    results = {"metrics": {"accuracy": measured, "n": len(y_true)},
               "fairness": fairness_report(y_true, y_pred, sensitive, n_boot=400, seed=1)}
    if explanations:
        results["explanations"] = {"rows": [{"text": "ten years of python", "shap": [0.1, -0.2]}]}
    if robustness is not None:  # a models_core.robustness report (tests/governance/robustness_evidence.py)
        results["robustness"] = robustness
    results = {k: _json(v) for k, v in results.items()}
    finished = timezone.now() - timedelta(days=finished_days_ago)
    audit = Audit.objects.create(model_version=version, dataset_version=version.dataset_version,
                                 status=AuditStatus.COMPLETE, requested_by=version.created_by,
                                 artifact_digest=version.artifact_digest, started_at=finished, finished_at=finished,
                                 summary={"accuracy": measured, "n": len(y_true)}, result_hash=result_hash(results))
    AuditResult.objects.bulk_create(
        AuditResult(audit=audit, kind=kind, data=data, sha256=hashlib.sha256(canonical_json(data).encode()).hexdigest())
        for kind, data in results.items())
    return audit


def _json(value):
    import json

    return json.loads(canonical_json(value))


def next_version(version: ModelVersion) -> ModelVersion:
    """Another ready version of the same model, trained on the same data."""
    number = version.model.versions.count() + 1
    digest = hashlib.sha256(f"artifact-{version.model_id}-{number}".encode()).hexdigest()
    return ModelVersion.objects.create(model=version.model, version=number, status=VersionStatus.READY,
                                       dataset_version=version.dataset_version, label_names=version.label_names,
                                       artifact_digest=digest, created_by=version.created_by, parent=version,
                                       trained_at=timezone.now())
