"""Maker/checker: self-approval, N-of-M reviewers, approvals voided when the evidence changes, comments, mail."""

from __future__ import annotations

import pytest
from django.core import mail

from governance.approvals.models import Approval, DeploymentRequest
from governance.approvals.selectors import request_inbox
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_comment, deployment_request_create,
                                           deployment_request_reject, deployment_requests_recheck_for_version)
from governance.audits.models import Audit
from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.errors import InvalidState, NotAllowed, ValidationFailed
from governance.registry.models import Deployment, ModelVersion
from tests.factories import PASSWORD, make_user
from tests.governance.approvals.evidence import completed_audit, ready_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(officer, reviewers):
    """Production: 2 approvals out of 3 designated reviewers; every gate on."""
    return deployment_policy_update(actor=officer, environment="production", required_approvals=2,
                                    approvers=reviewers, min_accuracy=0.8, max_audit_age_days=30)


@pytest.fixture
def request_(engineer, production):
    audit = completed_audit(ready_version(engineer))
    return deployment_request_create(actor=engineer, model_version=audit.model_version, environment="production",
                                     audit=audit, justification="Replace the rules engine.")


def _status(request) -> str:
    return DeploymentRequest.objects.get(pk=request.pk).status


def test_self_approval_is_refused_even_for_a_reviewer_who_requested(engineer, officer, request_):
    from django.contrib.auth.models import Group

    engineer.groups.add(Group.objects.get(name="reviewer"))
    engineer._role_names = None
    deployment_policy_update(actor=officer, environment="production", required_approvals=2)  # any reviewer
    with pytest.raises(NotAllowed, match="own"):
        deployment_request_approve(actor=engineer, request_id=request_.pk, password=PASSWORD)
    with pytest.raises(NotAllowed, match="own"):
        deployment_request_reject(actor=engineer, request_id=request_.pk, reason="no")
    assert _status(request_) == "pending" and not Approval.objects.exists()
    assert request_ not in request_inbox(reviewer=engineer)


def test_production_needs_two_different_designated_reviewers(engineer, reviewers, reviewer, request_):
    first, second, _ = reviewers
    assert request_.required_approvals == 2
    with pytest.raises(NotAllowed, match="designated"):
        deployment_request_approve(actor=reviewer, request_id=request_.pk, password=PASSWORD)  # a reviewer outside the pool
    assert request_ not in request_inbox(reviewer=reviewer) and request_ in request_inbox(reviewer=first)
    deployment_request_approve(actor=first, request_id=request_.pk, password=PASSWORD)
    assert _status(request_) == "pending" and not Deployment.objects.exists()
    with pytest.raises(InvalidState, match="already decided"):
        deployment_request_approve(actor=first, request_id=request_.pk, password=PASSWORD)  # the same reviewer twice
    assert request_ not in request_inbox(reviewer=first)
    deployment_request_approve(actor=second, request_id=request_.pk, password=PASSWORD)
    assert _status(request_) == "approved"
    deployment = Deployment.objects.get(request=request_)
    assert deployment.environment == "production" and deployment.ended_at is None
    approvals = Approval.objects.filter(request=request_)
    assert {a.reviewer_id for a in approvals} == {first.pk, second.pk}
    assert all(a.artifact_digest == request_.model_version.artifact_digest
               and a.audit_result_hash == request_.audit.result_hash for a in approvals)


def test_n_of_m_cannot_ask_for_more_approvals_than_designated_reviewers(officer, reviewers, engineer):
    with pytest.raises(ValidationFailed, match="N ≤ M") as error:
        deployment_policy_update(actor=officer, environment="production", required_approvals=3,
                                 approvers=reviewers[:2])
    assert error.value.field == "required_approvals"
    with pytest.raises(ValidationFailed, match="Not reviewers"):
        deployment_policy_update(actor=officer, environment="staging", required_approvals=1, approvers=[engineer])
    with pytest.raises(NotAllowed):
        deployment_policy_update(actor=engineer, environment="staging", required_approvals=1)


def test_a_changed_artifact_voids_the_approvals_and_returns_the_request_to_review(reviewers, request_):
    first, second, third = reviewers
    deployment_request_approve(actor=first, request_id=request_.pk, password=PASSWORD)
    ModelVersion.objects.filter(pk=request_.model_version_id).update(artifact_digest="e" * 64)
    with pytest.raises(InvalidState, match="artifact digest changed"):
        deployment_request_approve(actor=second, request_id=request_.pk, password=PASSWORD)
    request_.refresh_from_db()
    assert request_.status == "pending" and request_.voided_count == 1 and request_.artifact_digest == "e" * 64
    voided = Approval.objects.get(reviewer=first)
    assert voided.voided and "artifact digest changed" in voided.voided_reason
    entry = AuditLogEntry.objects.get(action="deployment_request.voided")
    assert entry.payload["after"]["artifact_digest"] == "e" * 64 and entry.payload["voided_approvals"] == [voided.pk]
    # Back in review on the new evidence: it takes two fresh approvals, and the first reviewer may decide again.
    deployment_request_approve(actor=first, request_id=request_.pk, password=PASSWORD)
    assert _status(request_) == "pending"
    deployment_request_approve(actor=second, request_id=request_.pk, password=PASSWORD)
    assert _status(request_) == "approved"
    assert Deployment.objects.get(request=request_).model_version.artifact_digest == "e" * 64
    assert audit_log_verify().ok


def test_a_changed_audit_result_hash_voids_the_approvals(reviewers, request_):
    deployment_request_approve(actor=reviewers[0], request_id=request_.pk, password=PASSWORD)
    Audit.objects.filter(pk=request_.audit_id).update(result_hash="d" * 64)
    with pytest.raises(InvalidState, match="result hash changed"):
        deployment_request_approve(actor=reviewers[1], request_id=request_.pk, password=PASSWORD)
    assert Approval.objects.get(reviewer=reviewers[0]).voided


def test_a_newer_failing_audit_voids_the_approvals_at_the_next_approval(engineer, reviewers, request_):
    deployment_request_approve(actor=reviewers[0], request_id=request_.pk, password=PASSWORD)
    newer = completed_audit(request_.model_version, accuracy=0.6)  # below the policy's 0.8
    with pytest.raises(InvalidState, match=f"newer audit #{newer.pk}.*minimum accuracy"):
        deployment_request_approve(actor=reviewers[1], request_id=request_.pk, password=PASSWORD)
    request_.refresh_from_db()
    assert request_.status == "pending" and request_.audit_id == newer.pk  # rebound to the newest evidence
    assert Approval.objects.get(reviewer=reviewers[0]).voided
    with pytest.raises(InvalidState, match="Minimum accuracy"):  # and that evidence now fails its gate
        deployment_request_approve(actor=reviewers[1], request_id=request_.pk, password=PASSWORD)


def test_a_newer_passing_audit_leaves_the_approvals_standing(reviewers, request_):
    deployment_request_approve(actor=reviewers[0], request_id=request_.pk, password=PASSWORD)
    completed_audit(request_.model_version, accuracy=0.95)
    assert deployment_requests_recheck_for_version(actor=None, model_version_id=request_.model_version_id) == []
    deployment_request_approve(actor=reviewers[1], request_id=request_.pk, password=PASSWORD)
    assert _status(request_) == "approved"


def test_a_newer_failing_audit_sends_an_approved_request_back_to_review(reviewers, request_, engineer,
                                                                        django_capture_on_commit_callbacks):
    engineer.email = "maker@example.com"
    engineer.save()
    for reviewer in reviewers[:2]:
        deployment_request_approve(actor=reviewer, request_id=request_.pk, password=PASSWORD)
    assert _status(request_) == "approved"
    completed_audit(request_.model_version, explanations=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert deployment_requests_recheck_for_version(
            actor=None, model_version_id=request_.model_version_id) == [request_.pk]
    assert _status(request_) == "pending"
    assert Approval.objects.filter(request=request_, voided=True).count() == 2
    assert any("approvals voided" in m.subject and "maker@example.com" in m.to for m in mail.outbox)


def test_reject_needs_a_reason_and_closes_the_request(reviewers, request_, engineer,
                                                      django_capture_on_commit_callbacks):
    engineer.email = "maker@example.com"
    engineer.save()
    with pytest.raises(ValidationFailed) as error:
        deployment_request_reject(actor=reviewers[0], request_id=request_.pk, reason="  ")
    assert error.value.field == "reason"
    with django_capture_on_commit_callbacks(execute=True):
        deployment_request_reject(actor=reviewers[0], request_id=request_.pk, reason="Gap too large")
    assert _status(request_) == "rejected"
    assert mail.outbox[-1].to == ["maker@example.com"] and "rejected" in mail.outbox[-1].subject
    with pytest.raises(InvalidState):
        deployment_request_approve(actor=reviewers[1], request_id=request_.pk, password=PASSWORD)


def test_reviewers_are_mailed_when_a_request_is_made(engineer, reviewers, production,
                                                    django_capture_on_commit_callbacks):
    for n, reviewer in enumerate(reviewers):
        reviewer.email = f"r{n}@example.com"
        reviewer.save()
    outsider = make_user("reviewer")
    outsider.email = "outsider@example.com"
    outsider.save()
    audit = completed_audit(ready_version(engineer))
    with django_capture_on_commit_callbacks(execute=True):
        deployment_request_create(actor=engineer, model_version=audit.model_version, environment="production",
                                  audit=audit, justification="Go live")
    assert len(mail.outbox) == 1 and "awaits review" in mail.outbox[0].subject
    assert sorted(mail.outbox[0].to) == ["r0@example.com", "r1@example.com", "r2@example.com"]


def test_requester_reviewers_and_compliance_comment_others_may_not(api_client, engineer, reviewers, officer,
                                                                   auditor, request_):
    for author in (engineer, reviewers[0], officer):
        deployment_request_comment(actor=author, request_id=request_.pk, body=f"note from {author.username}")
    with pytest.raises(NotAllowed):
        deployment_request_comment(actor=make_user(), request_id=request_.pk, body="another engineer")
    api_client.force_authenticate(auditor)
    assert api_client.post(f"/api/deployment-requests/{request_.pk}/comments/", {"body": "x"},
                           format="json").status_code == 403
    api_client.force_authenticate(reviewers[1])
    assert api_client.post(f"/api/deployment-requests/{request_.pk}/comments/", {"body": ""},
                           format="json").status_code == 400
    comments = api_client.get(f"/api/deployment-requests/{request_.pk}/").json()["comments"]
    assert [c["author"] for c in comments] == [engineer.username, reviewers[0].username, officer.username]


def test_the_reviewer_sees_justification_comments_and_evidence_side_by_side(client, reviewers, request_, engineer):
    from tests.factories import PASSWORD

    deployment_request_comment(actor=engineer, request_id=request_.pk, body="Shadow-tested for a month.")
    client.login(username=reviewers[0].username, password=PASSWORD)
    page = client.get(f"/approvals/{request_.pk}/").content.decode()
    for text in ("Replace the rules engine.", "Shadow-tested for a month.", request_.artifact_digest,
                 request_.audit_result_hash, "Minimum accuracy", "Re-enter your password"):
        assert text in page
    inbox = client.get("/approvals/").content.decode()
    assert f"/approvals/{request_.pk}/" in inbox.split("All requests")[0]


def test_approving_in_the_browser_needs_the_password_and_shows_a_voided_approval(client, reviewers, request_):
    from tests.factories import PASSWORD

    client.login(username=reviewers[0].username, password=PASSWORD)
    assert client.post(f"/approvals/{request_.pk}/approve/", {"password": "wrong"}).status_code == 400
    assert client.post(f"/approvals/{request_.pk}/approve/", {"password": PASSWORD}).status_code == 302
    ModelVersion.objects.filter(pk=request_.model_version_id).update(artifact_digest="c" * 64)
    client.login(username=reviewers[1].username, password=PASSWORD)
    response = client.post(f"/approvals/{request_.pk}/approve/", {"password": PASSWORD})
    assert response.status_code == 400 and b"evidence changed" in response.content
    page = client.get(f"/approvals/{request_.pk}/").content.decode()
    assert "voided" in page and "artifact digest changed" in page
