"""Erasure reaches every store and the audit log never holds a subject's words (PostgreSQL, inline jobs).

The planted subject "Zebulon Quarterfield" has records in an uploaded version (its datasheet and PII scan
are built by the upload's jobs); another person's record quotes him; officers' notes and a failed job's
error quote him. Attacks: an insider writes his name in capitals or mixed case, or quotes him in every free
text field that reaches the audit log.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.compliance.models import SubjectRequest
from governance.compliance.subject_requests import (erasure_impact_decide, erasure_request_fulfil,
                                                    subject_request_extend, subject_request_register)
from governance.datasets.models import Datasheet, DatasetRecord, PiiScan
from governance.datasets.services import dataset_upload
from governance.jobs.models import Job
from governance.jobs.services import job_fail
from governance.keys import text_digest
from governance.roles import COMPLIANCE_OFFICER, REVIEWER
from tests.factories import PASSWORD, hiring_bytes, make_user

pytestmark = pytest.mark.django_db

NAME, EMAIL, SUBJECT = "Zebulon Quarterfield", "zq.ex@example.org", "ZQ-7781"
TEXT = f"Mr {NAME} is a nurse with 9 years of experience. He led a ward rota. Contact {EMAIL}."
QUOTE = f"Referee note: Mr {NAME} vouches for her. She is a teacher with 4 years of experience."
NEEDLES = ("quarterfield", EMAIL, SUBJECT.lower())


def _upload(engineer, inline_jobs, name="applicants", run_jobs=True):
    rows = list(csv.reader(io.StringIO(hiring_bytes(40, 3).decode())))
    rows += [[SUBJECT, TEXT, "male", "30-44", "yes"]] * 2 + [["S-REF-1", QUOTE, "female", "45+", "no"]]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    upload = lambda: dataset_upload(  # noqa: E731
        actor=engineer, name=name, raw=out.getvalue().encode(), file_name="a.csv", text_column="text",
        label_column="hired", subject_column="subject_id", sensitive_attributes=["gender"], lawful_basis="consent",
        purposes="Screening.")
    if not run_jobs:  # its datasheet and PII scan jobs stay queued (never sent: the test never commits)
        return upload()
    with inline_jobs():
        return upload()


def _officer_client(officer) -> Client:
    client = Client()
    assert client.login(username=officer.username, password=PASSWORD)
    return client


def test_access_lists_other_records_that_mention_the_subject_on_the_page_and_the_api(engineer, inline_jobs,
                                                                                    api_client):
    version = _upload(engineer, inline_jobs)
    officer = make_user(COMPLIANCE_OFFICER)
    access = subject_request_register(actor=officer, kind="access", subject_id=SUBJECT)
    other = subject_request_register(actor=officer, kind="access", subject_id="S000004",
                                     notes=f"Her referee was {NAME.lower()}, who asked us first.")
    api_client.force_authenticate(officer)
    found = api_client.get(f"/api/compliance/requests/{access.pk}/mentions/").json()
    # His surname and first name are his alone (the quote names him whole): identifiers on their own too.
    assert found["identifiers"] == [NAME, EMAIL, "Quarterfield", "ZQ-7781", "Zebulon"]
    mention, note = found["mentions"]
    assert note == {"store": "subject request notes and reasons", "record": other.pk, "reference": other.reference,
                    "column": "notes", "identifiers": [NAME], "snippet": note["snippet"],
                    "mentions_the_subject": True}
    assert f"«{NAME.lower()}»" in note["snippet"] and "referee" not in note["snippet"]
    quoted = DatasetRecord.objects.get(version=version, subject_id="S-REF-1")
    assert mention == {"store": "dataset records", "record": quoted.pk, "dataset": "applicants", "dataset_version": version.pk, "version": 1,
                       "row_index": quoted.row_index, "column": "text", "identifiers": [NAME],
                       "snippet": mention["snippet"], "mentions_the_subject": True}
    assert f"«{NAME}»" in mention["snippet"] and "vouches" not in mention["snippet"]
    answer = api_client.get(f"/api/compliance/requests/{access.pk}/answer/?as=json").json()["content"]
    assert answer["mentions_in_other_records"] == [mention, note] and answer["art15_4_redactions"]
    letter = api_client.get(f"/api/compliance/requests/{access.pk}/answer/?as=pdf")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    page = _officer_client(officer).get(f"/compliance/requests/{access.pk}/").content.decode()
    assert 'id="mentions"' in page and "mentions the subject" in page and "vouches" not in page


def test_erasure_through_the_form_redacts_mentions_notes_job_errors_and_lists_every_store(engineer, inline_jobs):
    version = _upload(engineer, inline_jobs)
    officer = make_user(COMPLIANCE_OFFICER)
    sheet_before = Datasheet.objects.get(version=version)
    # The duplicated text's preview is kept with names redacted by the PII engine (models_core.pii): his text
    # is there, his name never was; the erasure still rebuilds the sheet without his rows.
    previews = [e["preview"] for e in sheet_before.data["duplicates"]["exact"]["largest"]]
    assert any(p.startswith("Mr <PERSON> is a nurse") for p in previews), previews
    assert "quarterfield" not in json.dumps(sheet_before.data).lower()
    failed = Job.objects.create(kind="datasheet", subject_type="datasets.datasetversion", subject_id=version.pk)
    job_fail(job_id=failed.pk, error=f"row 41 unreadable: {TEXT}")
    other = subject_request_register(actor=officer, kind="access", subject_id="S000002",
                                     notes=f"Asked about ZEBULON quarterfield ({EMAIL.upper()}).")
    surname = subject_request_register(actor=officer, kind="access", subject_id="S000005",
                                       notes="Is Quarterfield's file complete? Ask Dr quarterfield.")
    erasure = subject_request_register(actor=officer, kind="erasure", subject_id=SUBJECT,
                                       notes=f"Phoned in; {NAME} wants everything gone.")
    client = _officer_client(officer)
    page = client.get(f"/compliance/requests/{erasure.pk}/").content.decode()
    assert 'id="mentions"' in page and 'name="redact_mentions"' in page

    bad = client.post(f"/compliance/requests/{erasure.pk}/fulfil/", {"ground": "z", "redact_mentions": "on"})
    assert bad.status_code == 400 and DatasetRecord.objects.filter(subject_id=SUBJECT).count() == 2
    done = client.post(f"/compliance/requests/{erasure.pk}/fulfil/", {"ground": "b", "redact_mentions": "on"})
    assert done.status_code == 302
    erasure.refresh_from_db()
    note = f"[redacted: erasure request {erasure.reference}]"
    assert erasure.status == "fulfilled" and erasure.notes == f"Phoned in; {note} wants everything gone."
    other.refresh_from_db()
    assert other.notes == f"Asked about {note} ({note})."
    surname.refresh_from_db()  # an insider's shorthand: his surname alone, his only (no one else's record has it)
    assert surname.notes == f"Is {note}'s file complete? Ask Dr {note}."
    quote = DatasetRecord.objects.get(subject_id="S-REF-1")
    assert quote.text == QUOTE.replace(NAME, note)
    failed.refresh_from_db()
    assert failed.error == f"row 41 unreadable: {note}"  # his whole text was quoted: replaced whole
    sheet = Datasheet.objects.get(version=version)
    assert NAME not in json.dumps(sheet.data) and sheet.sha256 != sheet_before.sha256
    scan = PiiScan.objects.get(version=version)
    assert scan.data["by_kind"]["email"]["examples"] == [] and scan.data["by_kind"]["email"]["count"] == 2

    stores = {s["store"]: s for s in erasure.certificate["stores"]}
    assert stores["dataset records"]["count"] == 2
    assert stores["mentions in other people's records"] == {
        "store": "mentions in other people's records", "action": "redacted", "count": 1}
    assert stores["job errors and progress details"]["count"] == 1
    assert stores["subject request notes and reasons"]["count"] == 3
    assert stores["datasheets (duplicate previews, vocabulary)"]["count"] == 1
    assert stores["PII scans (examples, row indices)"]["count"] == 1
    assert stores["audit log"]["action"] == "holds no personal data"
    page = client.get(f"/compliance/requests/{erasure.pk}/").content.decode()
    assert 'id="certificate-stores"' in page and "job errors and progress details" in page
    pdf = client.get(f"/compliance/requests/{erasure.pk}/certificate/?as=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    for entry in AuditLogEntry.objects.all():
        assert not any(n in json.dumps(entry.payload).lower() for n in NEEDLES), entry.action


def test_without_the_checkbox_other_records_keep_their_text_and_the_certificate_says_so(engineer, inline_jobs,
                                                                                      api_client):
    _upload(engineer, inline_jobs)
    officer = make_user(COMPLIANCE_OFFICER)
    erasure = subject_request_register(actor=officer, kind="erasure", subject_id=SUBJECT)
    api_client.force_authenticate(officer)
    bad = api_client.post(f"/api/compliance/requests/{erasure.pk}/fulfil/", {"ground": "b", "redact_mentions": "perhaps"},
                          format="json")
    assert bad.status_code == 400 and "redact_mentions" in bad.json()
    assert api_client.post(f"/api/compliance/requests/{erasure.pk}/fulfil/", {"ground": "b"},
                           format="json").status_code == 200
    assert DatasetRecord.objects.get(subject_id="S-REF-1").text == QUOTE
    erasure.refresh_from_db()
    stores = {s["store"]: s for s in erasure.certificate["stores"]}
    assert stores["mentions in other people's records"]["action"] == "not requested"


def test_every_free_text_the_product_logs_leaves_the_audit_log_as_a_digest(engineer, inline_jobs):
    """An insider quotes the subject in every free-text field whose action is logged; the log holds none of it,
    and its digests still match the rows' texts."""
    from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                               deployment_request_comment, deployment_request_create,
                                               deployment_request_reject, gate_waiver_create)
    from governance.audits.services import audit_request
    from governance.registry.services import deployment_retire, model_version_request_training

    version = _upload(engineer, inline_jobs)
    with inline_jobs():
        model_version = model_version_request_training(actor=engineer, model_name="m", dataset_version=version,
                                                       epochs=1)
    model_version.refresh_from_db()
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=model_version, dataset_version=version, explain_rows=0,
                              overlap_justification="Erasure test: every store holds the subject.")
    model_version.refresh_from_db()
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    officer, reviewer = make_user(COMPLIANCE_OFFICER), make_user(REVIEWER)
    quote = f"as {NAME.upper()} ({EMAIL}, {SUBJECT}) told us"
    for env in ("staging", "production"):
        deployment_policy_update(actor=officer, environment=env, required_approvals=1 if env == "staging" else 2,
                                 max_audit_age_days=None, require_explanations=False,
                                 require_dpia_for_personal_data=env == "staging", require_lawful_basis=False)
    staging = deployment_request_create(actor=engineer, model_version=model_version, environment="staging",
                                        audit=audit, justification=f"Ship it, {quote}.")
    deployment_request_comment(actor=reviewer, request_id=staging.pk, body=f"Fine {quote}.")
    gate_waiver_create(actor=officer, request_id=staging.pk, gate="dpia", reason=f"Waived {quote}.",
                       expires_at=timezone.now() + timedelta(days=3), password=PASSWORD)
    deployment_request_approve(actor=reviewer, request_id=staging.pk, reason=f"Approved {quote}.",
                               password=PASSWORD)
    deployment_retire(actor=reviewer, model=model_version.model, environment="staging", reason=f"Retired {quote}.")
    production = deployment_request_create(actor=engineer, model_version=model_version, environment="production",
                                           audit=audit, justification="Production.")
    deployment_request_reject(actor=reviewer, request_id=production.pk, reason=f"No, {quote}.")
    queued_audit = audit_request(actor=engineer, model_version=model_version, dataset_version=version,
                                 explain_rows=0, overlap_justification="Erasure test: never runs.")  # never run: its job fails for good below
    # Every other kind of job that can fail for good logs its error too: drive each one's failure handler.
    from governance.datasets.models import DatasetDrift
    from governance.jobs.kinds import job_kind_get
    from governance.jobs.services import job_create

    second = _upload(engineer, inline_jobs, name="second", run_jobs=False)
    queued = model_version_request_training(actor=engineer, model_name="m2", dataset_version=second, epochs=1)
    drift = DatasetDrift.objects.create(version=second, against=version)
    for kind, subject in (("audit", queued_audit), ("datasheet", second), ("pii_scan", second),
                          ("training", queued), ("drift", drift)):
        job = Job.objects.filter(kind=kind, subject_id=subject.pk).first() or job_create(
            kind=kind, subject=subject, created_by=engineer)
        if job_kind_get(kind).failed:
            job_kind_get(kind).failed(job_id=job.pk, error=f"boom {TEXT} {quote}")
    # The datasets app's jobs record their failure from inside the run (jobs.job_run's `failed`).
    from governance.datasets import pii_scans
    from governance.datasets import services as datasets_services

    for kind, failed in (("datasheet", datasets_services._datasheet_failed), ("pii_scan", pii_scans._pii_scan_failed)):
        failed(second, Job.objects.get(kind=kind, subject_id=second.pk).pk, f"boom {TEXT} {quote}")
    access = subject_request_register(actor=officer, kind="access", subject_id=SUBJECT, notes=quote)
    subject_request_extend(actor=officer, request=access, months=1, reason=f"Complex case {quote}.")
    refused = subject_request_register(actor=officer, kind="erasure", subject_id=SUBJECT, notes=quote)
    erasure_request_fulfil(actor=officer, request=refused, ground="b", exception="e",
                           exception_reason=f"Litigation pending {quote}.")
    erasure = subject_request_register(actor=officer, kind="erasure", subject_id=SUBJECT, notes=quote)
    done = erasure_request_fulfil(actor=officer, request=erasure, ground="b")
    impact = done.impacts.get(model_version=model_version)
    erasure_impact_decide(actor=officer, impact=impact, decision="keep", justification=f"Keep it {quote}.")

    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"deployment_request.commented", "gate_waiver.created", "deployment_request.approved",
            "deployment.retired", "deployment_request.rejected", "subject_request.extended", "erasure.refused",
            "erasure.fulfilled", "erasure.model_decision", "audit.failed", "datasheet.failed", "pii_scan.failed",
            "model_version.training_failed"} <= actions, actions
    for entry in AuditLogEntry.objects.all():
        text = json.dumps(entry.payload).lower()
        assert not any(n in text for n in NEEDLES), (entry.action, entry.payload)
    logged = AuditLogEntry.objects.get(action="gate_waiver.created").payload["reason"]
    from governance.approvals.models import GateWaiver

    waiver = GateWaiver.objects.get()
    assert logged == text_digest(f"Waived {quote}.") and "[redacted: erasure request" in waiver.reason
    assert logged != text_digest(waiver.reason)  # the log shows the row's text was redacted since
    assert audit_log_verify().ok
    assert not SubjectRequest.objects.filter(subject_id=SUBJECT).exists()


def test_the_retention_command_purges_through_the_same_cleaning(engineer, inline_jobs):
    from django.core.management import CommandError, call_command

    from governance.compliance.models import RetentionRun
    from governance.datasets.models import Dataset

    version = _upload(engineer, inline_jobs)
    Dataset.objects.filter(pk=version.dataset_id).update(retention_days=1)
    failed = Job.objects.create(kind="datasheet", subject_type="datasets.datasetversion", subject_id=version.pk)
    job_fail(job_id=failed.pk, error=f"row 41 unreadable: {TEXT}")
    officer = make_user(COMPLIANCE_OFFICER)
    other = subject_request_register(actor=officer, kind="access", subject_id="S-ELSEWHERE",
                                     notes=f"Mentions {EMAIL}.")
    with pytest.raises(CommandError):
        call_command("retention_purge", "--as-of", "yesterday")
    out = io.StringIO()
    call_command("retention_purge", "--as-of", (timezone.now() + timedelta(days=2)).isoformat(), stdout=out)
    run = RetentionRun.objects.get()
    assert run.records_removed == 43 and "dataset records: deleted, 43" in out.getvalue()
    note = f"[redacted: retention purge #{run.pk}]"
    failed.refresh_from_db()
    other.refresh_from_db()
    assert failed.error == f"row 41 unreadable: {note}" and other.notes == f"Mentions {note}."
    assert NAME not in json.dumps(Datasheet.objects.get(version=version).data)
    assert EMAIL not in json.dumps(PiiScan.objects.get(version=version).data)
    entry = AuditLogEntry.objects.get(action="retention.purged")
    assert entry.payload["stores"]["dataset records"] == 43
