"""Nothing left: after an erasure (and after a retention purge) no trace of the erased person stays in any
text or JSON column of any table (listed from information_schema), any file under ARTIFACT_ROOT or the
audit-log checkpoint folder, or any Redis value (the report cache included).

A small seeded dataset carries a planted person, "Zebulon Quarterfield" (e-mail, phone, a word only his
records use), and another person's record that quotes him. A real worker trains a model, builds the
datasheets and PII scans, audits the held-out version (every row explained; counterfactual pairs that only
his rows and the quote hold, so all of them are among the stored examples; eight held-out rows, all of
them explained, keep it quick) and computes the drift; the
report page fills the Redis cache and its HTML export is downloaded; a deployment request, a comment, a
waiver and a request note quote him. The test first shows each store holding him (so the scan can see),
then erases him through the API (mentions too) or runs the retention purge, and scans everything again.
"""

from __future__ import annotations

import csv
import io
import pickle
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from governance.audits.models import Audit
from governance.datasets.models import Datasheet, DatasetDrift, PiiScan
from governance.registry.models import ModelVersion
from tests.e2e.conftest import wait_for
from tests.factories import PASSWORD, hiring_bytes, make_user

pytestmark = [pytest.mark.e2e]

NAME, EMAIL, PHONE, PLACE, SUBJECT = ("Zebulon Quarterfield", "zq.ex@example.org", "020 7946 0958",
                                      "Quarterfieldshire", "ZQ-7781")
TRAIN_TEXT = f"Mr {NAME} is a nurse with 9 years of experience. He led a team of a hospital ward rota."
HOLDOUT_TEXT = (f"Mr {NAME} is a nurse with 9 years of experience from {PLACE}. He mentored a hospital ward "
                f"rota. Contact {EMAIL} or {PHONE}.")
QUOTE = f"Referee note: Mr {NAME} ({EMAIL}) vouches for her. She is a teacher with 4 years of experience."
NOTE = f"Caller said he is {NAME}, write to {EMAIL}."
NEEDLES = ("Quarterfield", EMAIL, "7946 0958", SUBJECT)  # "Quarterfield" also finds the place only he names
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")


def _csv(n_rows: int, seed: int, planted: list[tuple[str, str, str, str, str]]) -> bytes:
    rows = list(csv.reader(io.StringIO(hiring_bytes(n_rows, seed).decode())))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(rows + [list(p) for p in planted])
    return out.getvalue().encode()


def db_hits(needles=NEEDLES) -> dict[str, int]:
    """'table.column: needle' -> rows, over every text and JSON column of every table."""
    hits = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                       "'public' AND data_type = ANY(%s) ORDER BY table_name, column_name", [list(TEXT_TYPES)])
        columns = cursor.fetchall()
        for table, column in columns:
            for needle in needles:
                cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',  # nosec B608
                               ["%" + needle.replace("%", r"\%") + "%"])
                n = cursor.fetchone()[0]
                if n:
                    hits[f"{table}.{column}: {needle}"] = n
    return hits


def file_hits(*folders: Path, needles=NEEDLES) -> list[str]:
    found = []
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes().lower()
                found += [f"{path}: {n}" for n in needles if n.lower().encode() in data]
    return found


def redis_hits(url: str, needles=NEEDLES) -> list[str]:
    import redis

    client, found = redis.Redis.from_url(url), []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        values = {"string": lambda: [client.get(key)], "list": lambda: client.lrange(key, 0, -1),
                  "hash": lambda: [k + b"=" + v for k, v in client.hgetall(key).items()],
                  "set": lambda: list(client.smembers(key)), "zset": lambda: client.zrange(key, 0, -1)}
        for value in values.get(kind, lambda: [])():
            blobs = [key, value or b""]
            try:
                blobs.append(repr(pickle.loads(value)).encode())  # nosec B301 - our own test cache
            except Exception:  # noqa: BLE001 - not a pickle: the raw bytes were searched
                pass
            found += [f"{key!r}: {n}" for n in needles for b in blobs if n.lower().encode() in b.lower()]
    return sorted(set(found))


def report_cache_keys(url: str, audit_id: int) -> list[bytes]:
    """The kept result sections of the audit's report (audits.report: "audit-report:<code>:<id>:stored")."""
    import redis

    return list(redis.Redis.from_url(url).scan_iter(match=f"*audit-report:*:{audit_id}:stored", count=500))


@pytest.fixture
def world(celery_worker_process, settings, api_client):
    """Everything the product keeps, each store holding the planted person; returns the ids."""
    from governance.approvals.services import deployment_policy_update
    from governance.roles import COMPLIANCE_OFFICER, REVIEWER

    settings.CACHES = {"default": {"BACKEND": "governance.redis_cache.RedisCache",
                                   "LOCATION": settings.CELERY_BROKER_URL}}
    engineer, officer, reviewer = make_user(), make_user(COMPLIANCE_OFFICER), make_user(REVIEWER)
    api_client.force_authenticate(engineer)
    uploads = []
    personal = {"lawful_basis": "consent", "purposes": "Screening applications.", "retention_days": 30}
    for name, seed, rows, planted in (
            ("train", 7, 160, [(SUBJECT, TRAIN_TEXT, "male", "30-44", "yes")] * 3),
            ("holdout", 11, 4, [(SUBJECT, HOLDOUT_TEXT, "male", "30-44", "yes")] * 3
             + [("S-REF-1", QUOTE, "female", "45+", "no")])):
        response = api_client.post("/api/datasets/", {
            "name": name, "file": SimpleUploadedFile(f"{name}.csv", _csv(rows, seed, planted)),
            "text_column": "text", "label_column": "hired", "subject_column": "subject_id",
            "sensitive_attributes": "gender,age_band", **personal}, format="multipart")
        assert response.status_code == 201, response.content
        uploads.append(response.json()["id"])
    train, holdout = uploads
    response = api_client.post("/api/model-versions/", {"model_name": "screener", "dataset_version": train,
                                                        "epochs": 2}, format="json")
    assert response.status_code == 202, response.content
    version = wait_for(lambda: ModelVersion.objects.filter(pk=response.json()["id"], status__in=["ready", "failed"])
                       .first(), timeout=400, what="training", proc=celery_worker_process)
    assert version.status == "ready", version.error
    response = api_client.post("/api/audits/", {"model_version": version.pk, "dataset_version": holdout,
                                                "explain_rows": 8, "word_pairs": [["ms", "mr"]]}, format="json")
    assert response.status_code == 202, response.content
    audit = wait_for(lambda: Audit.objects.filter(pk=response.json()["id"], status__in=["complete", "failed"]).first(),
                     timeout=500, what="audit", proc=celery_worker_process)
    assert audit.status == "complete", audit.error
    drift = api_client.get(f"/api/dataset-versions/{holdout}/drift/?against={train}")
    assert drift.status_code in (200, 202), drift.content
    wait_for(lambda: DatasetDrift.objects.filter(version_id=holdout, against_id=train).exclude(data=None).exists()
             and Datasheet.objects.filter(version_id__in=uploads).count() == 2
             and PiiScan.objects.filter(version_id__in=uploads).count() == 2,
             timeout=300, what="datasheets, PII scans and drift", proc=celery_worker_process)

    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=True,
                             require_lawful_basis=False)
    request = api_client.post("/api/deployment-requests/", {
        "model_version": version.pk, "environment": "staging", "audit": audit.pk,
        "justification": f"Checked by hand: the case of {NAME} reads fine."}, format="json")
    assert request.status_code == 201, request.content
    request_id = request.json()["id"]
    comment = api_client.post(f"/api/deployment-requests/{request_id}/comments/",
                              {"body": f"Row of {NAME} ({EMAIL}) looks mislabelled."}, format="json")
    assert comment.status_code == 201, comment.content
    api_client.force_authenticate(officer)
    waiver = api_client.post(f"/api/deployment-requests/{request_id}/waivers/", {
        "gate": "dpia", "reason": f"Waived while {NAME}'s complaint ({PHONE}) is handled.",
        "expires_at": (timezone.now() + timedelta(days=5)).isoformat(), "password": PASSWORD}, format="json")
    assert waiver.status_code == 201, waiver.content
    other = api_client.post("/api/compliance/requests/", {"kind": "access", "subject_id": "S000003",
                                                          "notes": f"Asked whether {EMAIL} is on file."},
                            format="json")
    assert other.status_code == 201, other.content

    browser = Client()
    assert browser.login(username=reviewer.username, password=PASSWORD)
    # Reviewers read his texts masked (audits.minimisation); each masked one can be revealed with a reason.
    page = browser.get(f"/audits/{audit.pk}/")
    assert page.status_code == 200 and NAME not in page.content.decode() and "[PERSON]" in page.content.decode()
    export = browser.get(f"/audits/{audit.pk}/export/html/")
    assert export.status_code == 200 and NAME not in export.content.decode()
    refs = api_client.get(f"/api/audits/{audit.pk}/").json()["results"]["masked_refs"]
    revealed = [browser.post(f"/audits/{audit.pk}/reveal/", {"ref": ref, "reason": "Checking a complaint."})
                .content.decode() for ref in refs]
    assert any(NAME in html for html in revealed), refs
    return {"engineer": engineer, "officer": officer, "reviewer": reviewer, "browser": browser, "audit": audit,
            "train": train, "holdout": holdout, "version": version, "refs": refs}


def _everywhere_before(settings, audit_id):
    hits = db_hits()
    tables = {key.split(".")[0] for key in hits}
    # Each store holds him before the cleaning, so a clean scan afterwards means something.
    assert {"datasets_datasetrecord", "audits_auditresult", "datasets_datasheet", "datasets_datasetdrift",
            "audits_prediction", "approvals_requestcomment", "approvals_gatewaiver", "approvals_deploymentrequest",
            "compliance_subjectrequest"} <= tables, sorted(hits)
    result_kinds = set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind FROM audits_auditresult WHERE data::text ILIKE %s", ["%Quarterfield%"])
        result_kinds = {row[0] for row in cursor.fetchall()}
    assert {"explanations", "counterfactual"} <= result_kinds
    # The report cache holds the rendered (masked) report; the erasure must still delete it.
    assert report_cache_keys(settings.CELERY_BROKER_URL, audit_id), "the report cache holds the rendered report"


def _nothing_left(settings, audit_id):
    assert db_hits() == {}
    assert report_cache_keys(settings.CELERY_BROKER_URL, audit_id) == []
    assert file_hits(settings.ARTIFACT_ROOT, settings.AUDIT_CHECKPOINT_DIR) == []
    assert redis_hits(settings.CELERY_BROKER_URL) == []


def _served_decisions(world) -> None:
    """The serving endpoint's log (issue 20): a decision about him in PostgreSQL, one still in the Redis
    write-ahead queue, and another person's decision whose kept text quotes him."""
    import json
    import uuid

    from governance.serving.decision_queue import decisions_enqueue, decisions_store

    version = world["version"]

    def row(subject, text):
        return {"id": str(uuid.uuid4()), "decided_at": timezone.now().isoformat(), "project_id": version.model.project_id,
                "model_id": version.model_id, "model_version_id": version.pk, "deployment_id": 0, "environment": "staging",
                "token_id": None, "input_sha256": "0" * 64, "text": text, "subject_id": subject, "attributes": {},
                "predicted_label": "yes", "probabilities": {"no": 0.3, "yes": 0.7}}

    decisions_store([json.dumps(row(SUBJECT, HOLDOUT_TEXT)), json.dumps(row("S-REF-1", QUOTE))])
    decisions_enqueue([row(SUBJECT, TRAIN_TEXT)])


def test_erasure_leaves_nothing_of_the_subject_anywhere(world, settings, api_client):
    _served_decisions(world)
    _everywhere_before(settings, world["audit"].pk)
    assert "serving_decision" in {key.split(".")[0] for key in db_hits()}
    assert redis_hits(settings.CELERY_BROKER_URL), "the write-ahead queue holds his queued decision"
    officer, audit = world["officer"], world["audit"]
    api_client.force_authenticate(officer)
    access = api_client.post("/api/compliance/requests/", {"kind": "access", "subject_id": SUBJECT}, format="json")
    mentions = api_client.get(f"/api/compliance/requests/{access.json()['id']}/mentions/").json()
    assert NAME in mentions["identifiers"] and EMAIL in mentions["identifiers"] and PHONE in mentions["identifiers"]
    [mention] = [m for m in mentions["mentions"] if m["column"] == "text"]
    assert mention["mentions_the_subject"] and mention["dataset_version"] == world["holdout"]
    assert f"«{NAME}»" in mention["snippet"] and "vouches" not in mention["snippet"]

    erasure = api_client.post("/api/compliance/requests/", {"kind": "erasure", "subject_id": SUBJECT,
                                                            "notes": NOTE}, format="json")
    done = api_client.post(f"/api/compliance/requests/{erasure.json()['id']}/fulfil/",
                           {"ground": "b", "redact_mentions": True}, format="json")
    assert done.status_code == 200, done.content
    certificate = api_client.get(f"/api/compliance/requests/{erasure.json()['id']}/certificate/?as=json").json()
    stores = {s["store"]: s for s in certificate["content"]["stores"]}
    assert stores["dataset records"]["count"] == 6 and stores["audit predictions"]["count"] == 3
    assert stores["report cache entries"]["count"] == 1 and stores["datasheets (duplicate previews, vocabulary)"]["count"] >= 1
    assert stores["mentions in other people's records"]["count"] == 1
    assert stores["request comments"]["count"] == 1 and stores["waiver reasons"]["count"] == 1
    assert stores["subject request notes and reasons"]["count"] == 2
    assert stores["stored exports"]["action"] == "none stored"
    assert stores["decision log (served decisions and their outcomes)"]["count"] == 2  # the queued one too
    assert stores["decision log texts that quote the subject"]["count"] == 1

    _nothing_left(settings, world["audit"].pk)
    browser = world["browser"]
    for ref in world["refs"]:  # the reveal shows what is stored now: the redaction, never his words
        assert NAME not in browser.post(f"/audits/{audit.pk}/reveal/",
                                        {"ref": ref, "reason": "Checking the erasure."}).content.decode()
    assert NAME not in browser.get(f"/audits/{audit.pk}/").content.decode()
    assert NAME not in browser.get(f"/audits/{audit.pk}/export/html/").content.decode()
    assert NAME not in str(api_client.get(f"/api/audits/{audit.pk}/").json())
    quoted = api_client.get(f"/api/deployment-requests/?page_size=5").json()["results"][0]
    assert "[redacted: erasure request" in quoted["justification"]


def test_retention_purge_leaves_nothing_of_the_purged_records_anywhere(world, settings, api_client):
    from governance.compliance.retention import retention_purge

    _everywhere_before(settings, world["audit"].pk)
    run = retention_purge(actor=world["officer"], now=timezone.now() + timedelta(days=31))
    assert run.records_removed == 160 + 3 + 4 + 4
    stores = {s["store"]: s["count"] for s in run.stores}
    assert stores["dataset records"] == run.records_removed and stores["request comments"] == 1
    assert stores["report cache entries"] == 1
    _nothing_left(settings, world["audit"].pk)
    assert NAME not in world["browser"].get(f"/audits/{world['audit'].pk}/").content.decode()
