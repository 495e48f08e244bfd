from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from governance.accounts.models import Membership, Project
from governance.roles import ALL_ROLES, PROJECT_ROLES
from governance.auditlog.services import audit_log_append
from governance.errors import InvalidState, NotAllowed, ValidationFailed


def roles_ensure() -> None:
    for name in ALL_ROLES:
        Group.objects.get_or_create(name=name)


@transaction.atomic
def user_create(*, actor=None, username: str, password: str, roles: list[str], email: str = "",
                first_name: str = "", last_name: str = "", memberships: list[tuple[Project, str]] = ()) -> User:
    """A user with organisation-wide `roles` (groups) and `memberships`, (project, role) pairs."""
    unknown = set(roles) - set(ALL_ROLES) | {role for _, role in memberships} - set(PROJECT_ROLES)
    if unknown:
        raise ValidationFailed(f"Unknown role(s): {', '.join(sorted(unknown))}.", field="roles")
    if User.objects.filter(username=username).exists():
        raise ValidationFailed("A user with that username exists.", field="username")
    roles_ensure()
    user = User.objects.create_user(username=username, password=password, email=email,
                                    first_name=first_name, last_name=last_name)
    user.groups.set(Group.objects.filter(name__in=roles))
    for project, role in memberships:
        Membership.objects.get_or_create(user=user, project=project, role=role)
    audit_log_append(actor=actor, action="user.created", obj=user, payload={
        "username": username, "roles": sorted(roles),
        "memberships": sorted([project.slug, role] for project, role in memberships)})
    return user


@transaction.atomic
def user_sso_create(*, username: str, email: str = "", first_name: str = "", last_name: str = "") -> User:
    """A user who signs in through single sign-on: no usable password (the provider authenticates them)."""
    if User.objects.filter(username=username).exists():
        raise ValidationFailed("A user with that username exists.", field="username")
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    user.save()
    audit_log_append(actor=None, action="user.created", obj=user, payload={"username": username, "source": "oidc"})
    return user


@transaction.atomic
def user_sso_update(*, user: User, email: str, first_name: str, last_name: str) -> User:
    """Bring the profile in line with the provider's claims (saved only when something changed)."""
    changed = {name: value for name, value in (("email", email), ("first_name", first_name),
                                               ("last_name", last_name)) if getattr(user, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(user, name, value)
        user.save(update_fields=list(changed))
        audit_log_append(actor=user, action="user.profile_synced", obj=user,
                         payload={"fields": sorted(changed), "source": "oidc"})
    return user


@transaction.atomic
def user_roles_sync(*, user: User, roles: set[str] | list[str], source: str) -> tuple[list[str], list[str]]:
    """Make the user's roles exactly `roles` (an identity provider's say, at each sign-in): roles granted and
    removed are logged as `user.roles_changed`; groups that are not roles are left alone. Returns (added,
    removed)."""
    wanted = set(roles)
    unknown = wanted - set(ALL_ROLES)
    if unknown:
        raise ValidationFailed(f"Unknown role(s): {', '.join(sorted(unknown))}.", field="roles")
    roles_ensure()
    current = set(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if added:
        user.groups.add(*Group.objects.filter(name__in=added))
    if removed:
        user.groups.remove(*Group.objects.filter(name__in=removed))
    if added or removed:
        for cached in ("_role_names", "_group_names"):  # permissions.user_roles caches them on the instance
            user.__dict__.pop(cached, None)
        audit_log_append(actor=user, action="user.roles_changed", obj=user,
                         payload={"added": added, "removed": removed, "roles": sorted(wanted), "source": source})
    return added, removed


@transaction.atomic
def totp_device_enrol(*, actor, password: str, fresh_sso: bool = False) -> "TOTPDevice":
    """Start enrolling a TOTP device for `actor` (their password re-entered): an unconfirmed device whose key
    is shown once; it counts for step-up only once confirmed with a code. Replaces an unconfirmed one.

    An SSO account has no password: it enrols within minutes of signing in at the provider (`fresh_sso`,
    accounts.oidc.sso_fresh), which stands for the re-entered password."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not actor.has_usable_password():
        if not fresh_sso:
            raise NotAllowed("Your account signs in through single sign-on: sign out and in again through it, "
                             "then add the device within a few minutes.")
    elif not password or not actor.check_password(password):
        raise NotAllowed("The password is not correct.")
    if TOTPDevice.objects.filter(user=actor, confirmed=True).exists():
        raise InvalidState("You already have a confirmed TOTP device.")
    TOTPDevice.objects.filter(user=actor, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=actor, name="authenticator", confirmed=False)
    audit_log_append(actor=actor, action="totp_device.enrolment_started", obj=actor,
                     payload={"device": device.pk})
    return device


@transaction.atomic
def totp_device_confirm(*, actor, token: str) -> "TOTPDevice":
    """Confirm the pending device with a current code from the authenticator app."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.select_for_update().filter(user=actor, confirmed=False).first()
    if device is None:
        raise InvalidState("There is no TOTP device awaiting confirmation; start the enrolment first.")
    if not (token or "").strip() or not device.verify_token(token.strip()):
        raise ValidationFailed("The code is not correct; check the clock of the device.", field="token")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_log_append(actor=actor, action="totp_device.confirmed", obj=actor, payload={"device": device.pk})
    return device
