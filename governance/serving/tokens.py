"""Service tokens: bearer tokens for the serving endpoint, each scoped to one model and one environment.

A token is `gst_` and 43 random URL-safe characters (256 bits from `secrets`); only its SHA-256 is stored,
so a database reader learns nothing usable, and it is shown once, to whoever creates it. A revoked token
answers 401 from the moment the revocation commits (every request reads the token's row).
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from governance.accounts.predicates import object_require_role
from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import InvalidState, ValidationFailed
from governance.registry.choices import Environment
from governance.registry.models import Model
from governance.roles import ML_ENGINEER, REVIEWER
from governance.serving.models import ServiceToken

TOKEN_PREFIX = "gst_"  # nosec B105: the public prefix of every token, not a secret
SHOWN_PREFIX = 12  # "gst_" and 8 characters: enough to tell tokens apart, far too few to guess the rest


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def service_token_create(*, actor, model: Model, environment: str, name: str) -> tuple[ServiceToken, str]:
    """Create a token for `model` in `environment`; returns the row and the token (shown once, never stored).
    An ML engineer or reviewer of the model's project creates it; production takes a reviewer."""
    audit_log_lock()
    object_require_role(actor, model, ML_ENGINEER, REVIEWER, what="model")
    if environment not in Environment.values:
        raise ValidationFailed(f"'{environment}' is not an environment.", field="environment")
    if environment == Environment.PRODUCTION:
        object_require_role(actor, model, REVIEWER, what="model")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Name the token (who or what will use it).", field="name")
    if len(name) > 100:
        raise ValidationFailed("A name of at most 100 characters.", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ServiceToken.objects.create(model=model, environment=environment, name=name, prefix=token[:SHOWN_PREFIX],
                                      token_sha256=token_sha256(token), created_by=actor)
    audit_log_append(actor=actor, action="service_token.created", obj=row,
                     payload={"model": model.pk, "environment": environment, "name": name, "prefix": row.prefix})
    return row, token


@transaction.atomic
def service_token_revoke(*, actor, token: ServiceToken) -> ServiceToken:
    audit_log_lock()
    locked = ServiceToken.objects.select_for_update().select_related("model").get(pk=token.pk)
    object_require_role(actor, locked.model, ML_ENGINEER, REVIEWER, what="model")
    if locked.revoked_at is not None:
        raise InvalidState(f"Token {locked.prefix}… was already revoked.")
    locked.revoked_at, locked.revoked_by = timezone.now(), actor
    locked.save(update_fields=["revoked_at", "revoked_by"])
    audit_log_append(actor=actor, action="service_token.revoked", obj=locked,
                     payload={"model": locked.model_id, "environment": locked.environment, "prefix": locked.prefix})
    return locked


def service_token_find(token: str) -> ServiceToken | None:
    """The token's row (revoked ones too: the caller says why it refuses), or None for an unknown token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    return ServiceToken.objects.select_related("model").filter(token_sha256=token_sha256(token)).first()
