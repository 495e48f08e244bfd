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
def totp_device_enrol(*, actor, password: str) -> "TOTPDevice":
    """Start enrolling a TOTP device for `actor` (their password re-entered): an unconfirmed device whose key
    is shown once; it counts for step-up only once confirmed with a code. Replaces an unconfirmed one."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not password or not actor.check_password(password):
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
