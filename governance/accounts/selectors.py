from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from governance.accounts.roles import ADMIN


def user_roles(user: AbstractBaseUser) -> set[str]:
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._role_names = cached
    return cached


def user_has_role(user: AbstractBaseUser, *roles: str) -> bool:
    names = user_roles(user)
    return ADMIN in names or bool(names.intersection(roles))
