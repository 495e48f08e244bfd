"""Every page and API endpoint enforces the roles server-side.

The tables below name, for every route of the project, which roles may write to it (POST/PUT) and which may
read it (GET). One test fails when a route is missing from them, so a new endpoint must declare its roles
here; the others walk every write endpoint and every read endpoint with every role (and a user with none)
and check 403 for those not allowed and an answer that is not a 403 (and never a 500) for those allowed.
For this issue's own endpoints the allowed roles send valid input and must get a 2xx (or a redirect for pages).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import get_resolver, reverse
from django.utils import timezone

from governance.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_create)
from tests.factories import PASSWORD, make_user
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version

pytestmark = pytest.mark.django_db

ML, REV, CO, AUD, ADM = ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, AUDITOR, ADMIN
ROLES = [ML, REV, CO, AUD, ADM]
EVERYONE = {ML, REV, CO, AUD, ADM}
OFFICER_OR_AUDITOR = {CO, AUD, ADM}
NO_ROLE = "no role"

# route name -> (method, roles allowed to write). ADMIN holds every role.
WRITES = {
    "api-datasets": ("post", {ML, ADM}),
    "api-dataset-reweigh": ("post", {ML, ADM}),
    "api-dataset-resample": ("post", {ML, ADM}),
    "api-dataset-split": ("post", {ML, ADM}),
    "dataset-version-split": ("post", {ML, ADM}),
    "api-model-version-import": ("post", {ML, ADM}),
    "api-decoder-import": ("post", {ML, ADM}),
    "decoder-import": ("post", {ML, ADM}),
    "api-model-version-generate": ("post", EVERYONE),
    "model-version-playground": ("post", EVERYONE),
    "model-import": ("post", {ML, ADM}),
    "api-dataset-uploads": ("post", {ML, ADM}),
    "api-dataset-upload-chunks": ("post", {ML, ADM}),
    "api-model-versions": ("post", {ML, ADM}),
    "api-model-version-mitigate": ("post", {ML, ADM}),
    "model-version-mitigate": ("post", {ML, ADM}),
    "api-pretrained-encoders": ("post", {ML, ADM}),
    "pretrained-encoders": ("post", {ML, ADM}),
    "api-audits": ("post", {ML, ADM}),
    "api-requests": ("post", {ML, ADM}),
    "api-request-approve": ("post", {REV, ADM}),
    "api-request-reject": ("post", {REV, ADM}),
    "api-request-recheck": ("post", {ML, REV, CO, ADM}),
    "api-request-comments": ("post", {ML, REV, CO, ADM}),
    "api-request-waivers": ("post", {CO, ADM}),
    "api-policy": ("put", {CO, ADM}),
    "api-webhooks": ("post", {ADM}),
    "api-deployment-rollback": ("post", {ML, REV, ADM}),
    "api-deployment-retire": ("post", {ML, REV, ADM}),
    "api-audit-log-checkpoints": ("post", {CO, ADM}),
    "api-organisation": ("put", {CO, ADM}),
    "api-subject-requests": ("post", {CO, ADM}),
    "api-subject-request-extend": ("post", {CO, ADM}),
    "api-erasure-fulfil": ("post", {CO, ADM}),
    "api-erasure-impact-decide": ("post", {CO, ADM}),
    "api-retention-runs": ("post", {CO, ADM}),
    "api-pseudonymise": ("post", {ML, CO, ADM}),
    "api-annex-iv": ("put", {CO, ADM}),
    "dataset-upload": ("post", {ML, ADM}),
    "dataset-version-reweigh": ("post", {ML, ADM}),
    "dataset-version-resample": ("post", {ML, ADM}),
    "model-train": ("post", {ML, ADM}),
    "deployment-change": ("post", {ML, REV, ADM}),
    "audit-new": ("post", {ML, ADM}),
    "deployment-request-new": ("post", {ML, ADM}),
    "deployment-request-approve": ("post", {REV, ADM}),
    "deployment-request-reject": ("post", {REV, ADM}),
    "deployment-request-comment": ("post", {ML, REV, CO, ADM}),
    "deployment-request-waiver": ("post", {CO, ADM}),
    "deployment-request-recheck": ("post", {ML, REV, CO, ADM}),
    "deployment-policy-edit": ("post", {CO, ADM}),
    "organisation-profile": ("post", {CO, ADM}),
    "subject-requests": ("post", {CO, ADM}),
    "subject-request-extend": ("post", {CO, ADM}),
    "erasure-fulfil": ("post", {CO, ADM}),
    "erasure-impact-decide": ("post", {CO, ADM}),
    "retention-runs": ("post", {CO, ADM}),
    "annex-iv": ("post", {CO, ADM}),
    "pseudonymise": ("post", {ML, CO, ADM}),
    "pii-scan-start": ("post", {ML, CO, ADM}),
    "compliance-dataset": ("post", {CO, ADM}),
    "api-dataset-metadata": ("patch", {CO, ADM}),
    "audit-log-checkpoint": ("post", {CO, ADM}),
    "api-dataset-confirm-metadata": ("post", {CO, ADM}),
    "dataset-confirm-metadata": ("post", {CO, ADM}),
    "api-totp-device": ("post", {REV, CO, ADM}),
    "api-totp-confirm": ("post", {REV, CO, ADM}),
    "totp-device": ("post", {REV, CO, ADM}),
    "api-audit-text-reveal": ("post", {REV, CO, ADM}),
    "audit-text-reveal": ("post", {REV, CO, ADM}),
    # Searches whose filters are personal data (a subject id) travel in the POST body: reads for every role.
    "api-dataset-records-search": ("post", EVERYONE),
    "api-audit-predictions-search": ("post", EVERYONE),
    "api-projects": ("post", {CO, ADM}),
    "api-project-members": ("post", {CO, ADM}),
    "projects": ("post", {CO, ADM}),
    "project": ("post", {CO, ADM}),
    "api-service-tokens": ("post", {ML, REV, ADM}),
    "api-service-token-revoke": ("post", {ML, REV, ADM}),
    "api-decision-outcomes": ("post", {ML, REV, ADM}),
    "api-serving-policy": ("put", {CO, ADM}),
    "api-monitoring-reports": ("post", {ML, REV, ADM}),
    "api-monitoring-alert-acknowledge": ("post", {ML, REV, ADM}),
    "service-token-new": ("post", {ML, REV, ADM}),
    "service-token-revoke": ("post", {ML, REV, ADM}),
    "serving-policy-edit": ("post", {CO, ADM}),
    "monitoring-new": ("post", {ML, REV, ADM}),
    "monitoring-alert-acknowledge": ("post", {ML, REV, ADM}),
}
# route name -> roles allowed to read (GET). Write-only routes (require_POST) are absent.
READS = {
    "api-datasets": {ML, ADM} | EVERYONE, "api-dataset": EVERYONE, "api-dataset-versions": EVERYONE,
    "api-dataset-version": EVERYONE, "api-dataset-upload": EVERYONE, "dataset-upload-detail": {ML, ADM},
    "model-import": {ML, ADM}, "api-dataset-records": EVERYONE, "api-dataset-datasheet": EVERYONE,
    "api-dataset-drift": EVERYONE, "api-models": EVERYONE, "api-model-versions": EVERYONE,
    "api-model-version": EVERYONE, "api-deployments": EVERYONE, "api-deployments-at": EVERYONE,
    "api-audits": EVERYONE, "api-audit": EVERYONE, "api-audit-predictions": EVERYONE, "api-requests": EVERYONE,
    "api-request": EVERYONE, "api-request-comments": EVERYONE, "api-policies": EVERYONE, "api-policy": EVERYONE,
    "api-webhooks": {ADM}, "api-jobs": EVERYONE, "api-job": EVERYONE,
    # The audit log spans every project: organisation-wide readers only (auditlog.selectors).
    "api-audit-log": OFFICER_OR_AUDITOR, "api-audit-log-verify": OFFICER_OR_AUDITOR,
    "api-audit-log-export": OFFICER_OR_AUDITOR, "api-audit-log-checkpoints": OFFICER_OR_AUDITOR,
    "api-processing-record": OFFICER_OR_AUDITOR, "api-organisation": OFFICER_OR_AUDITOR,
    "api-processing-record-file": OFFICER_OR_AUDITOR, "api-subject-requests": OFFICER_OR_AUDITOR,
    "api-subject-request": OFFICER_OR_AUDITOR, "api-access-answer": {CO, ADM},
    "api-erasure-certificate": OFFICER_OR_AUDITOR, "api-retention-runs": OFFICER_OR_AUDITOR,
    "api-pii-scan": EVERYONE, "api-annex-iv": OFFICER_OR_AUDITOR,
    "api-dataset-metadata": OFFICER_OR_AUDITOR, "compliance-datasets": OFFICER_OR_AUDITOR,
    "compliance-dataset": {CO, ADM},
    "datasets": EVERYONE, "dataset-upload": {ML, ADM}, "dataset": EVERYONE, "dataset-version": EVERYONE,
    "dataset-datasheet": EVERYONE, "dataset-compare": EVERYONE, "models": EVERYONE, "model-train": {ML, ADM},
    "model": EVERYONE, "model-version": EVERYONE, "model-timeline": EVERYONE, "audits": EVERYONE,
    "audit-new": {ML, ADM}, "audit": EVERYONE, "deployment-requests": EVERYONE,
    "deployment-request-new": {ML, ADM}, "deployment-request": EVERYONE, "deployment-policies": EVERYONE,
    "deployment-policy-edit": {CO, ADM}, "compliance": OFFICER_OR_AUDITOR,
    "processing-record-export": OFFICER_OR_AUDITOR, "organisation-profile": {CO, ADM},
    "processing-record-file": OFFICER_OR_AUDITOR, "subject-requests": OFFICER_OR_AUDITOR,
    "subject-request": OFFICER_OR_AUDITOR, "access-answer-file": {CO, ADM},
    "erasure-certificate-file": OFFICER_OR_AUDITOR, "retention-runs": OFFICER_OR_AUDITOR,
    "annex-iv-list": OFFICER_OR_AUDITOR, "annex-iv": OFFICER_OR_AUDITOR, "annex-iv-file": OFFICER_OR_AUDITOR,
    "audit-log": OFFICER_OR_AUDITOR, "audit-log-export": OFFICER_OR_AUDITOR, "home": EVERYONE,
    "api-audit-compare": EVERYONE, "audit-compare": EVERYONE, "audit-export": EVERYONE,
    "model-version-mitigate": {ML, ADM},
    "api-pretrained-encoders": EVERYONE, "api-pretrained-encoder": EVERYONE, "pretrained-encoders": EVERYONE,
    "api-model-compute": EVERYONE, "api-model-version-compute": EVERYONE,
    "api-totp-device": EVERYONE, "totp-device": {REV, CO, ADM},
    "api-subject-mentions": OFFICER_OR_AUDITOR,
    "audit-text-reveal": {REV, CO, ADM},
    "api-projects": EVERYONE, "api-project-members": EVERYONE, "projects": EVERYONE, "project": EVERYONE,
    "api-service-tokens": EVERYONE, "api-decisions": EVERYONE, "api-serving-policy": EVERYONE,
    "api-monitoring-reports": EVERYONE, "api-monitoring-alerts": EVERYONE, "serving": EVERYONE,
    "serving-policy-edit": {CO, ADM},
}
# Authenticated by a service token scoped to a model and environment, not by a user's role
# (tests/governance/serving/test_predict.py attacks it).
SERVICE_TOKEN_ROUTES = {"api-serve-predict"}
# The SSO routes answer anyone (404 while SSO is not configured): they start and finish the sign-in.
PUBLIC = {"api-schema", "api-token", "login", "logout", "oidc_authentication_init", "oidc_authentication_callback"}


def _routes() -> dict[str, str]:
    found = {}

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                if not str(p.pattern).startswith("admin/"):
                    walk(p.url_patterns, prefix + str(p.pattern))
            elif p.name:
                found[p.name] = prefix + str(p.pattern)

    walk(get_resolver().url_patterns)
    return found


def test_every_route_declares_its_roles():
    undeclared = sorted(set(_routes()) - set(WRITES) - set(READS) - PUBLIC - SERVICE_TOKEN_ROUTES)
    assert not undeclared, f"add these routes to the role tables of {__file__}: {undeclared}"
    gone = sorted((set(WRITES) | set(READS)) - set(_routes()))
    assert not gone, f"routes in the tables that no longer exist: {gone}"


@pytest.fixture
def world(engineer):
    """One object of each kind the routes point at, and a user per role."""
    users = {role: make_user(role) for role in ROLES}
    users[NO_ROLE] = User.objects.create_user(username="nobody", password=PASSWORD)
    for role in (REV,):
        users[f"{role}-2"] = make_user(role)
    officer = users[CO]
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    audit = completed_audit(ready_version(engineer))
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="walk")
    return {"users": users, "engineer": engineer, "audit": audit, "request": request,
            "project": audit.model_version.model.project,
            "version": audit.model_version, "model": audit.model_version.model,
            "dataset_version": audit.model_version.dataset_version}


def _url(name: str, world: dict) -> str:
    route = _routes()[name]
    kwargs = {}
    if "<int:pk>" in route:
        kwargs["pk"] = {"deployment-request": world["request"].pk}.get(name, _pk_for(route, world))
    if "<str:environment>" in route:
        kwargs["environment"] = "staging"
    if "<str:action>" in route:
        kwargs["action"] = "retire"
    if "<str:fmt>" in route:
        kwargs["fmt"] = "json"
    return reverse(name, kwargs=kwargs)


def _pk_for(route: str, world: dict) -> int:
    if route.startswith(("projects/", "api/projects/")):
        return world["project"].pk
    if "deployment-requests/" in route or route.startswith("approvals/"):
        return world["request"].pk
    if route.startswith(("models/versions", "api/model-versions")) or "annex-iv/" in route:
        return world["version"].pk
    if route.startswith(("models/", "api/models")):
        return world["model"].pk
    if "dataset-versions/" in route or route.startswith("datasets/versions"):
        return world["dataset_version"].pk
    if route.startswith(("audits/", "api/audits")):
        return world["audit"].pk
    return 999_999  # someone else's kind of object: the role check comes before the lookup


def _send(client, method: str, url: str, data: dict | None = None):
    if url.startswith("/api/"):
        return getattr(client, method)(url, data or {}, format="json")
    return client.post(url, data or {}, format="multipart")  # a page's form


def test_every_write_endpoint_refuses_the_roles_it_does_not_name(api_client, world):
    from rest_framework.test import APIClient

    seen = []
    for name, (method, allowed) in sorted(WRITES.items()):
        url = _url(name, world)
        for role in [*ROLES, NO_ROLE]:
            client = APIClient()
            client.force_login(world["users"][role])
            # The step-up that signs approvals and waivers is given: a 403 here is the role check alone.
            response = _send(client, method, url, {"password": PASSWORD})
            seen.append((name, role, response.status_code))
            if role in allowed:
                assert response.status_code != 403 and response.status_code < 500, (name, role, response.status_code)
            else:
                assert response.status_code == 403, (name, role, response.status_code)
    assert len(seen) == len(WRITES) * 6


def test_every_read_endpoint_refuses_the_roles_it_does_not_name(world):
    from rest_framework.test import APIClient

    for name, allowed in sorted(READS.items()):
        url = _url(name, world)
        for role in [*ROLES, NO_ROLE]:
            client = APIClient()
            client.force_login(world["users"][role])
            response = client.get(url)
            if role in allowed:
                assert response.status_code != 403 and response.status_code < 500, (name, role, response.status_code)
            else:
                assert response.status_code == 403, (name, role, response.status_code)
    anonymous = APIClient().get(reverse("api-requests"))
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"


def _fresh(world, *, approved_versions: int = 0):
    """A new pending request (and, with approved_versions, that many versions of one model serving before)."""
    engineer = world["engineer"]
    version = ready_version(engineer)
    reviewer = world["users"][f"{REV}-2"]
    for _ in range(approved_versions):
        audit = completed_audit(version)
        request = deployment_request_create(actor=engineer, model_version=version, environment="staging",
                                            audit=audit, justification="serve")
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
        version = next_version(version)
    audit = completed_audit(version)
    request = deployment_request_create(actor=engineer, model_version=version, environment="staging", audit=audit,
                                        justification="walk")
    return request


OWN_WRITES = {
    # name: (method, url builder, body builder) — valid input, so an allowed role gets a 2xx / redirect
    "api-requests": lambda w: ("post", "/api/deployment-requests/", _new_request_body(w)),
    "api-request-approve": lambda w: ("post", f"/api/deployment-requests/{_fresh(w).pk}/approve/",
                                      {"password": PASSWORD}),
    "api-request-reject": lambda w: ("post", f"/api/deployment-requests/{_fresh(w).pk}/reject/", {"reason": "no"}),
    "api-request-recheck": lambda w: ("post", f"/api/deployment-requests/{_fresh(w).pk}/recheck/", {}),
    "api-request-comments": lambda w: ("post", f"/api/deployment-requests/{w['request'].pk}/comments/",
                                       {"body": "looks fine"}),
    "api-request-waivers": lambda w: ("post", f"/api/deployment-requests/{_failing(w).pk}/waivers/",
                                      {"gate": "explanations", "reason": "pilot", "password": PASSWORD,
                                       "expires_at": (timezone.now() + timedelta(days=7)).isoformat()}),
    "api-policy": lambda w: ("put", "/api/deployment-policies/staging/", {"required_approvals": 1,
                                                                         "require_explanations": False,
                                                                         "require_dpia_for_personal_data": False,
                                                                         "require_lawful_basis": False}),
    "api-webhooks": lambda w: ("post", "/api/webhooks/", {"url": "https://example.com/h",
                                                          "events": ["request.created"]}),
    "api-audit-log-checkpoints": lambda w: ("post", "/api/audit-log/checkpoints/", {}),
    "api-deployment-retire": lambda w: ("post", "/api/deployments/retire/", _serving_body(w, 1)),
    "api-deployment-rollback": lambda w: ("post", "/api/deployments/rollback/", _serving_body(w, 2)),
    "deployment-request-new": lambda w: ("post", "/approvals/new/", _new_request_body(w)),
    "deployment-request-approve": lambda w: ("post", f"/approvals/{_fresh(w).pk}/approve/", {"password": PASSWORD}),
    "deployment-request-reject": lambda w: ("post", f"/approvals/{_fresh(w).pk}/reject/", {"reason": "no"}),
    "deployment-request-comment": lambda w: ("post", f"/approvals/{w['request'].pk}/comment/", {"body": "ok"}),
    "deployment-request-waiver": lambda w: ("post", f"/approvals/{_failing(w).pk}/waiver/",
                                            {"gate": "explanations", "reason": "r", "password": PASSWORD,
                                             "expires_at": (timezone.now() + timedelta(days=3)).strftime(
                                                 "%Y-%m-%d %H:%M")}),
    "api-dataset-confirm-metadata": lambda w: ("post", f"/api/datasets/{_unconfirmed(w)}/confirm-metadata/", {}),
    "dataset-confirm-metadata": lambda w: ("post", f"/datasets/{_unconfirmed(w)}/confirm-metadata/", {}),
    "api-totp-device": lambda w: ("post", "/api/account/totp/", {"password": PASSWORD}),
    "totp-device": lambda w: ("post", "/account/totp/", {"password": PASSWORD}),
    "deployment-request-recheck": lambda w: ("post", f"/approvals/{_fresh(w).pk}/recheck/", {}),
    "deployment-policy-edit": lambda w: ("post", "/approvals/policies/staging/", {"required_approvals": 1}),
    "deployment-change": lambda w: ("post", f"/models/{_serving_body(w, 1)['model']}/deployments/retire/",
                                    {"environment": "staging", "reason": "done"}),
    "audit-log-checkpoint": lambda w: ("post", "/audit-log/checkpoint/", {}),
}


def _failing(world):
    """A production request whose audit stored no explanations, under a policy that wants them: a failing gate
    to waive."""
    deployment_policy_update(actor=world["users"][CO], environment="production", required_approvals=2,
                             max_audit_age_days=None, require_explanations=True,
                             require_dpia_for_personal_data=False, require_lawful_basis=False)
    audit = completed_audit(ready_version(world["engineer"]), explanations=False)
    return deployment_request_create(actor=world["engineer"], model_version=audit.model_version,
                                     environment="production", audit=audit, justification="walk")


def _unconfirmed(world) -> int:
    return ready_version(world["engineer"], confirmed=False).dataset_version.dataset_id


def _new_request_body(world) -> dict:
    audit = completed_audit(ready_version(world["engineer"]))
    return {"model_version": audit.model_version_id, "environment": "staging", "audit": audit.pk,
            "justification": "walk"}


def _serving_body(world, versions: int) -> dict:
    request = _fresh(world, approved_versions=versions)
    return {"model": request.model_version.model_id, "environment": "staging", "reason": "walk"}


def test_the_roles_allowed_to_write_get_a_2xx_with_valid_input(world):
    from rest_framework.test import APIClient

    assert set(OWN_WRITES) <= set(WRITES)
    for name, build in sorted(OWN_WRITES.items()):
        for role in sorted(WRITES[name][1]):
            method, url, body = build(world)
            client = APIClient()
            # The ML engineer who made the requests (another engineer may not comment on them).
            client.force_login(world["engineer"] if role == ML else world["users"][role])
            response = _send(client, method, url, body)
            ok = 200 <= response.status_code < 300 or (not url.startswith("/api/") and response.status_code == 302)
            assert ok, (name, role, response.status_code, getattr(response, "content", b"")[:300])
