from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from governance.permissions import user_roles


def user_group_names(user: AbstractBaseUser) -> list[str]:
    """The names of the user's groups, as the page header lists them: read with the roles, once a request."""
    if not user or not user.is_authenticated:
        return []
    user_roles(user)
    if getattr(user, "_group_names", None) is None:  # roles were set without the names
        user._group_names = list(user.groups.values_list("name", flat=True))
    return user._group_names
