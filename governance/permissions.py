"""Server-side role checks for the API (DRF permissions) and the HTML views (a decorator).

A shared module below every app (the jobs API uses it, and jobs sits below accounts): roles are Django
groups named in governance.roles; accounts manages who holds them.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from governance.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER

READ_ROLES = (ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, AUDITOR)


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


def user_has_role(user: AbstractBaseUser, *roles: str) -> bool:
    names = user_roles(user)
    return ADMIN in names or bool(names.intersection(roles))


def role_permission(*write_roles: str, read_roles: tuple[str, ...] = READ_ROLES) -> type[BasePermission]:
    """A permission class: reads need one of `read_roles`, writes one of `write_roles`."""

    class _RolePermission(BasePermission):
        message = f"This action needs one of the roles: {', '.join(write_roles)}."

        def has_permission(self, request, view) -> bool:
            if not request.user or not request.user.is_authenticated:
                return False
            if request.method in SAFE_METHODS:
                return user_has_role(request.user, *read_roles)
            return user_has_role(request.user, *write_roles)

    _RolePermission.__name__ = f"Role_{'_'.join(write_roles) or 'none'}"
    return _RolePermission


def role_required(*roles: str):
    """View decorator: 403 unless the user holds one of `roles` (admins hold all)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_has_role(request.user, *roles):
                raise PermissionDenied(f"This page needs one of the roles: {', '.join(roles)}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
