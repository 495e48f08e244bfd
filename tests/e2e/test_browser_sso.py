"""Single sign-on through a real OpenID Connect provider (django-oauth-toolkit in a second process,
tests/e2e/oidc_provider/), in headless Chromium: our log-in page → "Sign in with Test IdP" → the provider's log-in
form → its consent page → back on our dashboard, signed in with the role the groups claim maps to. Signing in
again after the provider changed the user's groups re-syncs the roles: the removed one is gone here too. The SSO
account, which has no password, enrols a TOTP device just after signing in."""

from __future__ import annotations

import pytest

from governance.accounts.oidc import DISCOVERED, oidc_setting
from governance.auditlog.models import AuditLogEntry
from governance.roles import AUDITOR, REVIEWER
from tests.e2e.browser import browser_page
from tests.e2e.oidc_provider import oidc_provider

pytestmark = [pytest.mark.browser]

IDP_PASSWORD = "idp-password-for-grace"


@pytest.fixture
def provider(live_server, transactional_db, settings, tmp_path):
    users = [{"username": "grace", "password": IDP_PASSWORD, "email": "grace@example.com", "first_name": "Grace",
              "last_name": "Hopper", "groups": ["governance:reviewer", "governance:project:credit-scoring:reviewer",
                                                "engineering"]}]
    with oidc_provider(tmp_path, redirect_uri=f"{live_server.url}/oidc/callback/", users=users) as idp:
        for name, value in idp.settings_for_relying_party().items():
            setattr(settings, name, value)
        yield idp


def sso_sign_in(page, base_url: str, *, password: str | None) -> None:
    page.goto(f"{base_url}/login/")
    assert page.is_visible("#id_password")  # the break-glass form stays
    page.click("text=Sign in with Test IdP")
    if password is not None:  # the provider's own log-in form (its session remembers it afterwards)
        page.fill("#id_username", "grace")
        page.fill("#id_password", password)
        page.click("#idp-sign-in")
    page.wait_for_load_state()
    if page.url.startswith("http://127.0.0.1") and page.is_visible("#idp-allow"):  # consent, when asked
        assert "Your groups" in page.inner_text("body")
        page.click("#idp-allow")
    page.wait_for_url(f"{base_url}/")


def test_sso_signs_in_with_the_mapped_role_and_resyncs_it_at_the_next_sign_in(live_server, provider):
    from django.contrib.auth.models import User

    from governance.accounts.models import Membership, Project

    credit = Project.objects.create(name="Credit scoring", slug="credit-scoring")
    with browser_page() as page:
        sso_sign_in(page, live_server.url, password=IDP_PASSWORD)
        header = page.inner_text("header")
        assert "grace" in header and REVIEWER in header
        assert page.goto(f"{live_server.url}/account/totp/").status == 200  # reviewers and officers only
        page.click("text=Create a key")  # no password to re-enter: the fresh sign-in at the provider stands for it
        assert page.is_visible("#totp-key")
        page.click("button[type=submit] >> text=Log out")

        user = User.objects.get(username="grace")
        assert set(user.groups.values_list("name", flat=True)) == {REVIEWER}
        assert user.email == "grace@example.com" and not user.has_usable_password()
        # "governance:project:credit-scoring:reviewer": a reviewer in that project (accounts.projects)
        assert list(Membership.objects.filter(user=user).values_list("project", "role")) == [(credit.pk, REVIEWER)]

        provider.groups_set("grace", ["governance:auditor"])  # the provider takes the reviewer role away
        sso_sign_in(page, live_server.url, password=None)
        header = page.inner_text("header")
        assert AUDITOR in header and REVIEWER not in header
        assert page.goto(f"{live_server.url}/account/totp/").status == 403
    assert set(user.groups.values_list("name", flat=True)) == {AUDITOR}
    changes = [e.payload for e in AuditLogEntry.objects.filter(action="user.roles_changed", object_id=str(user.pk))
               .order_by("seq")]
    assert [(c["added"], c["removed"]) for c in changes] == [([REVIEWER], []), ([AUDITOR], [REVIEWER])]
    assert not Membership.objects.filter(user=user).exists()  # the project claim went with the next sign-in
    members = AuditLogEntry.objects.filter(action__startswith="project.member_", object_id=str(credit.pk))
    assert [(e.action, e.payload["role"], e.payload["source"]) for e in members.order_by("seq")] == [
        ("project.member_added", REVIEWER, "sso"), ("project.member_removed", REVIEWER, "sso")]


def test_a_failed_provider_sign_in_leaves_the_user_signed_out(live_server, provider, settings):
    # Configured by the discovery document alone this time (the endpoints come from it).
    settings.OIDC_OP_DISCOVERY_URL = f"{provider.base_url}/o/.well-known/openid-configuration"
    for name in DISCOVERED:
        setattr(settings, name, "")
    settings.OIDC_RP_CLIENT_SECRET = "not-the-secret"  # the token request fails at the provider
    with browser_page() as page:
        page.goto(f"{live_server.url}/login/")
        page.click("text=Sign in with Test IdP")
        page.fill("#id_username", "grace")
        page.fill("#id_password", IDP_PASSWORD)
        page.click("#idp-sign-in")
        if page.is_visible("#idp-allow"):
            page.click("#idp-allow")
        page.wait_for_url(f"{live_server.url}/login/?sso=failed")
        assert "did not sign you in" in page.inner_text("main")
    assert "invalid_client" in provider.log_path.read_text() or "/o/token/" in provider.log_path.read_text()


def test_the_discovery_document_alone_gives_the_endpoints(provider, settings, client):
    settings.OIDC_OP_DISCOVERY_URL = f"{provider.base_url}/o/.well-known/openid-configuration"
    for name in DISCOVERED:
        setattr(settings, name, "")
    assert oidc_setting("OIDC_OP_TOKEN_ENDPOINT") == f"{provider.base_url}/o/token/"
    assert oidc_setting("OIDC_OP_JWKS_ENDPOINT") == f"{provider.base_url}/o/.well-known/jwks.json"
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302 and start["Location"].startswith(f"{provider.base_url}/o/authorize/?")
