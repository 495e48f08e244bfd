"""Single sign-on with OpenID Connect (mozilla-django-oidc): the authentication backend and the two views.

The provider's groups claim (`OIDC_GROUPS_CLAIM`, "groups" by default) carries the user's roles here:
- `OIDC_ROLE_MAP` (claim value → role, roles.py) maps the org-wide roles; by default
  "governance:<role>" → <role> for every role in roles.ALL_ROLES ("governance:reviewer" → reviewer).
- "<OIDC_GROUP_PREFIX>project:<slug>:<role>" ("governance:project:credit-scoring:reviewer") is a project
  membership: `oidc_project_claims` parses them and every sign-in sends `signals.oidc_memberships_claimed` with
  the complete list, for the projects code to bring the user's memberships in line.
Roles are re-synced at every sign-in (accounts.services.user_roles_sync): one removed at the provider is removed
here, and each change is logged. Groups that are not roles are left alone.

SSO is off unless `OIDC_RP_CLIENT_ID` is set (`oidc_enabled`): the backend then authenticates nobody and the
views answer 404; local accounts (break-glass administrators) keep the password form either way. An SSO account
gets an unusable password, and a sign-in never takes over a local account whose username the provider names.
"""

from __future__ import annotations

import functools
import logging
import re
import time

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from governance.accounts.services import user_roles_sync, user_sso_create, user_sso_update
from governance.accounts.signals import oidc_memberships_claimed
from governance.roles import ALL_ROLES

logger = logging.getLogger(__name__)

USERNAME_MAX = 150
PROJECT_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


# The provider's settings that its discovery document (OIDC_OP_DISCOVERY_URL) can give, and its names for them.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",  # nosec B105: names of settings, no secret
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_ISSUER": "issuer",
}


def oidc_enabled() -> bool:
    """SSO is configured: a client id, and the provider's discovery URL or its endpoints."""
    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", "")) and (
        bool(getattr(settings, "OIDC_OP_DISCOVERY_URL", "")) or all(
            getattr(settings, name, "") for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT",
                                                     "OIDC_OP_USER_ENDPOINT")))


@functools.lru_cache(maxsize=4)
def _discovery(url: str) -> dict:
    response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
    response.raise_for_status()
    return response.json()


def oidc_setting(name: str, *default):
    """mozilla-django-oidc's settings, an unset provider endpoint (or issuer) read from the provider's discovery
    document when OIDC_OP_DISCOVERY_URL is set (fetched once per process)."""
    value = getattr(settings, name, "")
    url = getattr(settings, "OIDC_OP_DISCOVERY_URL", "")
    if not value and name in DISCOVERED and url:
        return _discovery(url).get(DISCOVERED[name], "")
    return import_from_settings(name, *default)


def oidc_role_map() -> dict[str, str]:
    """Claim value → org-wide role: `OIDC_ROLE_MAP` when set, else "<prefix><role>" for every role."""
    explicit = getattr(settings, "OIDC_ROLE_MAP", None)
    if explicit:
        return {str(k): v for k, v in explicit.items() if v in ALL_ROLES}
    return {f"{settings.OIDC_GROUP_PREFIX}{role}": role for role in ALL_ROLES}


def oidc_claimed_groups(claims: dict) -> list[str]:
    """The groups claim as a list of strings (a provider may send one string, or nothing)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value if isinstance(v, (str, int))] if isinstance(value, (list, tuple)) else []


def oidc_claimed_roles(groups: list[str]) -> set[str]:
    mapping = oidc_role_map()
    return {mapping[g] for g in groups if g in mapping}


def oidc_project_claims(groups: list[str]) -> list[tuple[str, str]]:
    """The project memberships the groups claim grants: "<prefix>project:<slug>:<role>" → (slug, role), sorted,
    without duplicates. A malformed entry (no slug, a slug that is not lower-case words joined by hyphens, a role
    that is not a role) is skipped and logged, never guessed at."""
    prefix = f"{settings.OIDC_GROUP_PREFIX}project:"
    pairs = set()
    for group in groups:
        if not group.startswith(prefix):
            continue
        slug, sep, role = group[len(prefix):].rpartition(":")
        if not sep or not PROJECT_SLUG.fullmatch(slug) or role not in ALL_ROLES:
            logger.warning("OIDC groups claim: ignoring malformed project entry %r", group)
            continue
        pairs.add((slug, role))
    return sorted(pairs)


def oidc_memberships_announce(*, user, groups: list[str]) -> list[tuple[str, str]]:
    """Send `oidc_memberships_claimed` with every (project slug, role) the claim grants, even none (a receiver
    removes the memberships the provider no longer grants); returns the pairs."""
    memberships = oidc_project_claims(groups)
    oidc_memberships_claimed.send(sender=GovernanceOIDCBackend, user=user, memberships=memberships)
    return memberships


class GovernanceOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend: users found by their username claim, created or updated from the claims,
    roles synced from the groups claim at every sign-in. Inactive while SSO is not configured."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # Django builds every backend for every authenticate() (a password log-in too) and get_user(): the
        # provider's settings (perhaps its discovery document) are read only for an SSO callback, in authenticate.
        self.enabled = oidc_enabled()
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if (not self.enabled or request is None or "password" in kwargs
                or not (request.GET.get("code") and request.GET.get("state"))):
            return None
        try:
            super().__init__()
            user = super().authenticate(request, **kwargs)
            if user is not None:
                request.session[SSO_SIGNED_IN_AT] = time.time()  # kept by login(), which cycles the key
            return user
        except (requests.RequestException, SuspiciousOperation, ValueError) as exc:
            # The provider refused the code or the client, did not answer, or sent a token that does not verify:
            # no sign-in (the callback sends the browser back to the log-in page), never a server error.
            logger.warning("OIDC sign-in refused: %s", exc)
            return None

    def verify_token(self, token, **kwargs):
        """mozilla-django-oidc checks the signature, expiry and nonce; the audience and the issuer too here."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was not issued to this client.")
        issuer = oidc_setting("OIDC_OP_ISSUER")
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("The ID token comes from another issuer.")
        return payload

    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub")) and bool(self.username_from_claims(claims))

    @staticmethod
    def username_from_claims(claims: dict) -> str:
        value = claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("sub") or ""
        return str(value).strip()[:USERNAME_MAX]

    def filter_users_by_claims(self, claims):
        username = self.username_from_claims(claims)
        users = self.UserModel.objects.filter(username=username)
        local = [u for u in users if u.has_usable_password()]
        if local:  # a local (break-glass) account: the provider cannot sign in as it
            raise SuspiciousOperation(f"'{username}' is a local account; it cannot sign in through SSO.")
        return users

    def create_user(self, claims):
        user = user_sso_create(username=self.username_from_claims(claims), **self._profile(claims))
        return self._sync(user, claims)

    def update_user(self, user, claims):
        if not user.is_active:
            raise SuspiciousOperation(f"'{user.username}' is deactivated.")
        user_sso_update(user=user, **self._profile(claims))
        return self._sync(user, claims)

    @staticmethod
    def _profile(claims: dict) -> dict:
        return {"email": str(claims.get("email") or "")[:254],
                "first_name": str(claims.get("given_name") or "")[:150],
                "last_name": str(claims.get("family_name") or "")[:150]}

    @staticmethod
    def _sync(user, claims: dict):
        groups = oidc_claimed_groups(claims)
        with transaction.atomic():  # the roles and the project memberships change together, or neither
            user_roles_sync(user=user, roles=oidc_claimed_roles(groups), source="oidc")
            oidc_memberships_announce(user=user, groups=groups)
        return user


SSO_SIGNED_IN_AT = "sso_signed_in_at"


def sso_fresh(request) -> bool:
    """The session signed in through the provider within OIDC_FRESH_SIGN_IN_S (what stands for a re-entered
    password where an account has none: enrolling a TOTP device)."""
    signed_in_at = request.session.get(SSO_SIGNED_IN_AT) if hasattr(request, "session") else None
    return signed_in_at is not None and 0 <= time.time() - signed_in_at <= settings.OIDC_FRESH_SIGN_IN_S


class AuthenticationRequestView(OIDCAuthenticationRequestView):
    get_settings = staticmethod(oidc_setting)


def _require_sso(view):
    def wrapped(request, *args, **kwargs):
        if not oidc_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            return view(request, *args, **kwargs)
        except requests.RequestException as exc:  # the discovery document did not come
            logger.warning("OIDC provider unreachable: %s", exc)
            return redirect(settings.LOGIN_REDIRECT_URL_FAILURE)

    return wrapped


# The views read their settings when a request comes (as_view builds one per request), so a test may configure
# SSO at run time; unconfigured, both are 404.
oidc_authenticate = _require_sso(AuthenticationRequestView.as_view())
oidc_callback = _require_sso(OIDCAuthenticationCallbackView.as_view())
