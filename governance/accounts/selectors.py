from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from governance.accounts.roles import ADMIN


def user_roles(user: AbstractBaseUser) -> set[str]:
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        user._group_names = list(user.groups.values_list("name", flat=True))
        cached = set(user._group_names)
        if user.is_superuser:
            cached.add(ADMIN)
        user._role_names = cached
    return cached


def user_group_names(user: AbstractBaseUser) -> list[str]:
    """The names of the user's groups, as the page header lists them: read with the roles, once a request."""
    if not user or not user.is_authenticated:
        return []
    user_roles(user)
    if getattr(user, "_group_names", None) is None:  # roles were set without the names
        user._group_names = list(user.groups.values_list("name", flat=True))
    return user._group_names


def user_has_role(user: AbstractBaseUser, *roles: str) -> bool:
    names = user_roles(user)
    return ADMIN in names or bool(names.intersection(roles))
