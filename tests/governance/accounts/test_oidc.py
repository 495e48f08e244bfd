"""Single sign-on's claims, unit level: the groups claim becomes roles (added and removed at each sign-in, logged),
project entries are parsed and announced through accounts.signals, local accounts cannot be taken over, and SSO is
off (no button, 404) unless configured. The round trip through a real provider is tests/e2e/test_browser_sso.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousOperation

from governance.accounts.oidc import (GovernanceOIDCBackend, oidc_claimed_roles, oidc_enabled,
                                      oidc_project_claims)
from governance.accounts.signals import oidc_memberships_claimed
from governance.auditlog.models import AuditLogEntry
from governance.roles import AUDITOR, ML_ENGINEER, REVIEWER
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SSO = {"OIDC_RP_CLIENT_ID": "governance", "OIDC_RP_CLIENT_SECRET": "s3cret",
       "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example/authorize", "OIDC_OP_TOKEN_ENDPOINT":
       "https://idp.example/token", "OIDC_OP_USER_ENDPOINT": "https://idp.example/userinfo",
       "OIDC_OP_JWKS_ENDPOINT": "https://idp.example/jwks"}


@pytest.fixture
def sso(settings):
    for name, value in SSO.items():
        setattr(settings, name, value)
    return settings


def claims(groups, username="ada", **extra) -> dict:
    return {"sub": "42", "preferred_username": username, "email": f"{username}@example.com",
            "given_name": "Ada", "family_name": "Lovelace", "groups": groups, **extra}


def roles_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_project_entries_become_slug_role_pairs_and_malformed_ones_are_skipped():
    groups = ["governance:project:credit-scoring:reviewer", "governance:project:hiring:ml_engineer",
              "governance:project:hiring:ml_engineer", "governance:reviewer", "other:project:x:reviewer",
              "governance:project::reviewer", "governance:project:Bad_Slug:reviewer",
              "governance:project:hiring:overlord", "governance:project:no-role"]
    assert oidc_project_claims(groups) == [("credit-scoring", "reviewer"), ("hiring", "ml_engineer")]
    assert oidc_claimed_roles(groups) == {REVIEWER}


def test_a_role_map_setting_replaces_the_prefixed_names(settings):
    settings.OIDC_ROLE_MAP = {"ad-model-risk": REVIEWER, "ad-anything": "overlord"}
    assert oidc_claimed_roles(["ad-model-risk", "ad-anything", "governance:auditor"]) == {REVIEWER}


def test_first_sign_in_creates_the_user_with_the_mapped_roles_and_no_password(sso):
    user = GovernanceOIDCBackend().create_user(claims(["governance:reviewer", "governance:auditor", "staff"]))
    assert user.username == "ada" and user.email == "ada@example.com" and user.last_name == "Lovelace"
    assert not user.has_usable_password()
    assert roles_of(user) == {REVIEWER, AUDITOR}
    entry = AuditLogEntry.objects.filter(action="user.roles_changed", object_id=str(user.pk)).get()
    assert entry.payload["added"] == [AUDITOR, REVIEWER] and entry.payload["removed"] == []


def test_every_sign_in_resyncs_roles_removing_what_the_provider_removed_and_logs_the_change(sso):
    backend = GovernanceOIDCBackend()
    user = backend.create_user(claims(["governance:reviewer", "governance:auditor"]))
    user.groups.create(name="not-a-role")  # groups that are not roles are none of SSO's business
    backend.update_user(user, claims(["governance:auditor", "governance:ml_engineer"], email="new@example.com"))
    user.refresh_from_db()
    assert roles_of(user) == {AUDITOR, ML_ENGINEER, "not-a-role"} and user.email == "new@example.com"
    changes = list(AuditLogEntry.objects.filter(action="user.roles_changed", object_id=str(user.pk)).order_by("seq"))
    assert changes[-1].payload["added"] == [ML_ENGINEER] and changes[-1].payload["removed"] == [REVIEWER]
    backend.update_user(user, claims([]))
    assert roles_of(user) == {"not-a-role"}
    assert AuditLogEntry.objects.filter(action="user.roles_changed", object_id=str(user.pk)).count() == 3
    backend.update_user(user, claims([]))  # nothing changed: nothing logged
    assert AuditLogEntry.objects.filter(action="user.roles_changed", object_id=str(user.pk)).count() == 3


def test_each_sign_in_announces_the_project_memberships_even_none(sso):
    heard = []

    def receiver(sender, user, memberships, **kwargs):
        heard.append((user.username, memberships))

    oidc_memberships_claimed.connect(receiver)
    try:
        backend = GovernanceOIDCBackend()
        user = backend.create_user(claims(["governance:project:credit-scoring:reviewer", "governance:reviewer"]))
        backend.update_user(user, claims(["governance:reviewer"]))
    finally:
        oidc_memberships_claimed.disconnect(receiver)
    assert heard == [("ada", [("credit-scoring", REVIEWER)]), ("ada", [])]


def test_project_claims_set_memberships_of_existing_projects_only_and_each_change_is_logged(sso):
    """The receiver (accounts.projects) makes the memberships what the claim says: a project that does not exist
    here, or a role that is no project role, grants nothing; a membership no longer claimed goes."""
    from governance.accounts.models import Membership, Project
    from governance.roles import ADMIN

    hiring = Project.objects.create(name="Hiring", slug="hiring")
    backend = GovernanceOIDCBackend()
    user = backend.create_user(claims(["governance:project:hiring:ml_engineer", "governance:project:hiring:reviewer",
                                       "governance:project:nowhere:reviewer", f"governance:project:hiring:{ADMIN}"]))
    held = lambda: set(Membership.objects.filter(user=user).values_list("project__slug", "role"))  # noqa: E731
    assert held() == {("hiring", ML_ENGINEER), ("hiring", REVIEWER)}
    backend.update_user(user, claims(["governance:project:hiring:reviewer"]))
    assert held() == {("hiring", REVIEWER)}
    logged = AuditLogEntry.objects.filter(action__startswith="project.member_", object_id=str(hiring.pk))
    assert [(e.action, e.payload["role"], e.payload["source"]) for e in logged.order_by("seq")] == [
        ("project.member_added", ML_ENGINEER, "sso"), ("project.member_added", REVIEWER, "sso"),
        ("project.member_removed", ML_ENGINEER, "sso")]


def test_the_provider_cannot_sign_in_as_a_local_break_glass_account(sso):
    local = make_user(AUDITOR, username="breakglass")
    with pytest.raises(SuspiciousOperation):
        GovernanceOIDCBackend().filter_users_by_claims(claims(["governance:admin"], username="breakglass"))
    assert roles_of(local) == {AUDITOR}


def test_an_id_token_for_another_client_or_issuer_is_refused(sso, monkeypatch):
    from mozilla_django_oidc.auth import OIDCAuthenticationBackend

    backend = GovernanceOIDCBackend()
    monkeypatch.setattr(OIDCAuthenticationBackend, "verify_token",
                        lambda self, token, **kw: {"aud": "someone-else", "iss": "https://idp.example"})
    with pytest.raises(SuspiciousOperation):
        backend.verify_token("t")
    monkeypatch.setattr(OIDCAuthenticationBackend, "verify_token",
                        lambda self, token, **kw: {"aud": ["governance"], "iss": "https://evil.example"})
    sso.OIDC_OP_ISSUER = "https://idp.example"
    with pytest.raises(SuspiciousOperation):
        backend.verify_token("t")
    sso.OIDC_OP_ISSUER = "https://evil.example"
    assert backend.verify_token("t")["aud"] == ["governance"]


def test_without_configuration_sso_is_off_and_the_password_form_remains(client):
    assert not oidc_enabled()
    assert GovernanceOIDCBackend().authenticate(None) is None
    page = client.get("/login/")
    assert page.status_code == 200 and b"id_password" in page.content and b"Sign in with" not in page.content
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_configured_the_login_page_offers_the_provider_beside_the_password_form(client, sso):
    sso.OIDC_PROVIDER_NAME = "Contoso ID"
    page = client.get("/login/")
    assert b"Sign in with Contoso ID" in page.content and b"id_password" in page.content
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302 and start["Location"].startswith("https://idp.example/authorize?")
    assert "code_challenge=" in start["Location"] and "scope=openid+email+profile+groups" in start["Location"]


def test_an_sso_account_enrols_totp_within_minutes_of_signing_in_at_the_provider(client, sso):
    import time

    from governance.accounts.oidc import SSO_SIGNED_IN_AT

    user = GovernanceOIDCBackend().create_user(claims(["governance:reviewer"]))
    client.force_login(user)
    refused = client.post("/api/account/totp/", {}, content_type="application/json")
    assert refused.status_code == 403 and "single sign-on" in refused.json()["non_field_errors"][0]
    session = client.session
    session[SSO_SIGNED_IN_AT] = time.time() - sso.OIDC_FRESH_SIGN_IN_S - 5  # signed in too long ago
    session.save()
    assert client.post("/api/account/totp/", {}, content_type="application/json").status_code == 403
    session[SSO_SIGNED_IN_AT] = time.time()
    session.save()
    started = client.post("/api/account/totp/", {}, content_type="application/json")
    assert started.status_code == 201 and started.json()["otpauth_url"].startswith("otpauth://totp/")
