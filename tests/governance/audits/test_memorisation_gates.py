"""Issue 23: a generative version's memorisation audit drives its approval gates and the erasure decision.
A decoder that memorised its few records reproduces a subject's e-mail; the policy's "no exact extraction"
gate fails on that audit, and the erasure of the subject refuses to keep the model (it would keep reciting
the data) while retraining goes ahead, the decision citing the audit."""

from __future__ import annotations

import csv
import io

import pytest

from governance.approvals.gates import evaluate
from governance.audits.models import AuditResult
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.compliance.models import ErasureImpact
from governance.compliance.subject_requests import (erasure_impact_decide, erasure_request_fulfil,
                                                    subject_request_register)
from governance.datasets.services import dataset_upload
from governance.errors import ValidationFailed
from governance.registry.choices import ModelKind, VersionStatus
from governance.registry.services import model_version_request_training
from governance.roles import COMPLIANCE_OFFICER
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=False)

RECORDS = [(f"S{i}", f"Record of client {i}: write to {name}.{i}@example.com today.")
           for i, name in enumerate(["anna.berg", "john.smith", "maria.rossi", "peter.novak"])]


class Policy:  # the gate fields a DeploymentPolicy row carries (the defaults of the model)
    min_accuracy, fairness_rules, max_audit_age_days, require_explanations = 0.9, [], None, True
    require_dpia_for_personal_data = require_lawful_basis = False
    max_canary_exposure, forbid_pii_extraction = 10.0, True


@pytest.fixture
def memorised(engineer, inline_jobs, settings):
    settings.DECODER_TRAINING_DEFAULTS = {"hidden_size": 64, "max_length": 96, "batch_size": 8,
                                          "val_fraction": 0.05, "canaries_per_repeat": 1, "canary_controls": 1}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["subject_id", "text", "topic"])
    for _ in range(12):
        for i, (subject, text) in enumerate(RECORDS):
            writer.writerow([subject, text, "a" if i % 2 else "b"])
    data = dataset_upload(actor=engineer, name="few-records", raw=out.getvalue().encode(), file_name="r.csv",
                          text_column="text", label_column="topic", subject_column="subject_id",
                          sensitive_attributes=[])
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="reciter", dataset_version=data,
                                                 kind=ModelKind.DECODER, epochs=10, seed=1)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.error
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=data)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    return version, audit


def test_extraction_gate_fails_and_classifier_gates_do_not_apply(memorised):
    version, audit = memorised
    results = {r.kind: r.data for r in AuditResult.objects.filter(audit=audit)}
    assert results["extraction"]["findings_extracted"] >= 2
    judged = {g["gate"]: g for g in evaluate(policy=Policy, model_version=version, audit=audit, results=results,
                                             now=audit.finished_at)}
    assert set(judged) == {"canary_exposure", "pii_extraction"}  # no accuracy, fairness or explanations here
    assert judged["pii_extraction"]["passed"] is False and "email" in judged["pii_extraction"]["detail"]
    worst = max(c["exposure_interval"][1] for c in results["canaries"]["canaries"] if c["repeats"])
    assert judged["canary_exposure"]["measured"] == {"exposure_upper": round(worst, 6)}
    assert judged["canary_exposure"]["passed"] is (worst <= 10.0)


def test_erasure_refuses_to_keep_a_model_that_recites_the_subject_and_retrains_it(memorised, inline_jobs):
    """Attack: a careless officer keeps, with a fine justification, a model that can recite the erased
    subject's e-mail address."""
    version, audit = memorised
    by_subject = AuditResult.objects.get(audit=audit, kind="extraction").data["by_subject"]
    subject = next(s for s, v in by_subject.items() if v["extracted"])
    officer = make_user(COMPLIANCE_OFFICER)
    request = subject_request_register(actor=officer, kind="erasure", subject_id=subject)
    done = erasure_request_fulfil(actor=officer, request=request, ground="b")
    impact = ErasureImpact.objects.get(request=done, model_version=version)
    assert impact.extraction["audit"] == audit.pk and impact.extraction["extracted"] >= 1
    assert "email" in impact.extraction["extracted_kinds"]
    flagged = done.certificate["model_versions_flagged"][0]
    assert flagged["extraction"]["extracted"] == impact.extraction["extracted"]
    assert subject not in str(AuditResult.objects.get(audit=audit, kind="extraction").data["by_subject"])
    from django.test import Client

    client = Client()
    client.force_login(officer)
    page = client.get(f"/compliance/requests/{done.pk}/").content.decode()
    assert f'id="extraction-{impact.pk}"' in page and "can only be retrained" in page
    with pytest.raises(ValidationFailed, match="reproduced"):
        erasure_impact_decide(actor=officer, impact=impact, decision="keep",
                              justification="The model is needed for the service and the risk is low.")
    with inline_jobs():
        decided = erasure_impact_decide(actor=officer, impact=impact, decision="retrain")
    assert decided.retrained_model_version.kind == ModelKind.DECODER
    entry = AuditLogEntry.objects.filter(action="erasure.model_decision").last()
    assert entry.payload["extraction"]["audit"] == audit.pk
