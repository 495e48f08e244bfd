"""Erasure blanks the subject's text in stored explanations, keeps the numbers, and records both digests."""

from __future__ import annotations

import hashlib
import json

import pytest

from governance.audits.models import AuditResult, Prediction
from governance.audits.services import audit_request
from governance.compliance.chain import canonical_json
from governance.compliance.exports import access_answer
from governance.compliance.subject_requests import erasure_request_fulfil, subject_request_register
from governance.datasets.models import DatasetRecord
from tests.factories import make_user
from tests.governance.slice import trained_version

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # explanations (SHAP, LIME, IG) on CPU


def test_erasure_redacts_the_subjects_explained_row(engineer, inline_jobs):
    from governance.roles import COMPLIANCE_OFFICER
    from tests.factories import upload_hiring

    version, _ = trained_version(engineer, inline_jobs, epochs=2)
    holdout = upload_hiring(engineer, n_rows=60, seed=5)
    officer = make_user(COMPLIANCE_OFFICER)
    # An earlier erasure removes row 0, so the audit's row positions no longer equal the row indices.
    first = DatasetRecord.objects.get(version=holdout, row_index=0).subject_id
    erasure_request_fulfil(actor=officer, ground="a",
                           request=subject_request_register(actor=officer, kind="erasure", subject_id=first))
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=2)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    result = AuditResult.objects.get(audit=audit, kind="explanations")
    position = result.data["row_indices"][result.data["texts"][0]["index"]]
    record = Prediction.objects.filter(audit=audit).order_by("pk")[position].record
    assert record.row_index == position + 1
    subject, text = record.subject_id, result.data["texts"][0]["text"]
    assert text == record.text
    attributions = result.data["texts"][0]["attributions"]
    others = [entry["text"] for entry in result.data["texts"][1:]]

    access = subject_request_register(actor=officer, kind="access", subject_id=subject)
    mine = [d for d in access_answer(access)["h_automated_decisions"] if d["audit"] == audit.pk]
    assert mine and mine[0]["logic"]["explanation"]["your_decision"]["tokens"]

    erasure = subject_request_register(actor=officer, kind="erasure", subject_id=subject)
    done = erasure_request_fulfil(actor=officer, request=erasure, ground="b")
    result.refresh_from_db()
    entry = result.data["texts"][0]
    assert entry["text"] == "[erased]" and {t["token"] for t in entry["tokens"]} == {"[erased]"}
    assert entry["attributions"] == attributions
    assert [e["text"] for e in result.data["texts"][1:]] == others  # only the subject's row is blanked
    assert text not in json.dumps(result.data)
    assert result.sha256 == hashlib.sha256(canonical_json(result.data).encode()).hexdigest()
    redacted = [r for r in done.certificate["explanations_redacted"] if r["audit"] == audit.pk]
    assert redacted and redacted[0]["sha256_after"] == result.sha256 and redacted[0]["sha256_before"] != result.sha256
    audit.refresh_from_db()
    assert len(audit.result_hash) == 64  # the audit's own hash still names what was computed
