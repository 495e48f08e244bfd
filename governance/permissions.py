"""Server-side role checks for the API (DRF permissions) and the HTML views (decorators).

A user's roles are their Django groups (organisation-wide: the role in every project) and their roles within
projects (accounts.Membership, given here by the `project_roles` hook, which the accounts app fills: this
module sits below every app). The checks here are the coarse ones, "holds the role somewhere", made before
any object is looked up; whether the role holds in an object's project is governance.accounts.predicates'.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission

from governance.hooks import Hook
from governance.roles import ADMIN, AUDITOR, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER

READ_ROLES = (ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, AUDITOR)

# Called with `user`; each provider returns {project id: set of role names} (accounts: the memberships).
project_roles: Hook[dict[int, set[str]]] = Hook("project_roles")


def user_org_roles(user: AbstractBaseUser) -> set[str]:
    """The user's organisation-wide roles: their groups (and ADMIN for a superuser); read once a request."""
    if not user or not user.is_authenticated:
        return set()
    _forget_if_reset(user)
    cached = getattr(user, "_org_role_names", None)
    if cached is None:
        user._group_names = list(user.groups.values_list("name", flat=True))
        cached = set(user._group_names)
        if user.is_superuser:
            cached.add(ADMIN)
        user._org_role_names = cached
    return cached


def user_project_roles(user: AbstractBaseUser) -> dict[int, set[str]]:
    """{project id: the roles the user holds within it}, organisation-wide roles not included."""
    if not user or not user.is_authenticated:
        return {}
    _forget_if_reset(user)
    cached = getattr(user, "_project_role_names", None)
    if cached is None:
        cached = {}
        for part in project_roles.collect(user=user):
            for project_id, names in part.items():
                cached.setdefault(project_id, set()).update(names)
        user._project_role_names = cached
    return cached


def user_roles(user: AbstractBaseUser) -> set[str]:
    """Every role the user holds anywhere: organisation-wide or in at least one project."""
    if not user or not user.is_authenticated:
        return set()
    _forget_if_reset(user)
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user_org_roles(user))
        for names in user_project_roles(user).values():
            cached |= names
        user._role_names = cached
    return cached


def user_projects_visible(user: AbstractBaseUser) -> set[int] | None:
    """The ids of the projects `user` sees: None for every project (any organisation-wide role), else those
    they hold a role in (governance.accounts.predicates scopes objects by it)."""
    if user_org_roles(user):
        return None
    return set(user_project_roles(user))


def _forget_if_reset(user: AbstractBaseUser) -> None:
    if "_role_names" in user.__dict__ and user._role_names is None:  # a caller reset the roles read
        user_roles_forget(user)


def user_roles_forget(user: AbstractBaseUser) -> None:
    """Drop the roles read for this user object (after its groups or memberships change)."""
    for name in ("_org_role_names", "_project_role_names", "_role_names", "_group_names"):
        if hasattr(user, name):
            delattr(user, name)


def user_has_role(user: AbstractBaseUser, *roles: str, org_wide: bool = False) -> bool:
    """Whether `user` holds one of `roles` (admins hold all): anywhere, or with `org_wide` across the
    organisation (a group), as the records that belong to no project (GDPR requests, the record of
    processing, retention) ask."""
    names = user_org_roles(user) if org_wide else user_roles(user)
    return ADMIN in names or bool(names.intersection(roles))


def role_permission(*write_roles: str, read_roles: tuple[str, ...] = READ_ROLES,
                    org_wide: bool = False) -> type[BasePermission]:
    """A permission class: reads need one of `read_roles`, writes one of `write_roles` (`org_wide`: held
    across the organisation, not within a project)."""

    class _RolePermission(BasePermission):
        message = f"This action needs one of the roles: {', '.join(write_roles)}."

        def has_permission(self, request, view) -> bool:
            if not request.user or not request.user.is_authenticated:
                return False
            if request.method in SAFE_METHODS:
                return user_has_role(request.user, *read_roles, org_wide=org_wide)
            return user_has_role(request.user, *write_roles, org_wide=org_wide)

    _RolePermission.__name__ = f"Role_{'_'.join(write_roles) or 'none'}"
    return _RolePermission


def role_required(*roles: str, org_wide: bool = False):
    """View decorator: 403 unless the user holds one of `roles` (admins hold all); with `org_wide`, across
    the organisation."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_has_role(request.user, *roles, org_wide=org_wide):
                raise PermissionDenied(f"This page needs one of the roles: {', '.join(roles)}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def writes_require(*roles: str, message: str):
    """View decorator for a page that reads and writes: a POST by a user holding none of `roles` is answered
    403 with `message` (reads are left to the view's role_required)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in SAFE_METHODS and not user_has_role(request.user, *roles):
                return HttpResponse(message, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
