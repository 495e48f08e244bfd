from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from governance.roles import ALL_ROLES
from governance.compliance.services import audit_log_append
from governance.errors import ValidationFailed


def roles_ensure() -> None:
    for name in ALL_ROLES:
        Group.objects.get_or_create(name=name)


@transaction.atomic
def user_create(*, actor=None, username: str, password: str, roles: list[str], email: str = "",
                first_name: str = "", last_name: str = "") -> User:
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValidationFailed(f"Unknown role(s): {', '.join(sorted(unknown))}.", field="roles")
    if User.objects.filter(username=username).exists():
        raise ValidationFailed("A user with that username exists.", field="username")
    roles_ensure()
    user = User.objects.create_user(username=username, password=password, email=email,
                                    first_name=first_name, last_name=last_name)
    user.groups.set(Group.objects.filter(name__in=roles))
    audit_log_append(actor=actor, action="user.created", obj=user, payload={"username": username,
                                                                            "roles": sorted(roles)})
    return user
