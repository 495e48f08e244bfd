"""Who may see and act on an object of a project: the object permissions, as django-rules predicates.

Every scoped object (a project; a dataset, a model; their versions, audits, deployment requests and
deployments) answers `project_id`. A user sees an object when they hold any role in its project or any
organisation-wide role (a Django group); they act on it with a role when they hold that role in its project
or across the organisation (an admin holds every role). Services call `object_require_role` before they
change an object, selectors `project_scoped` before they list; an object of a project the user does not see
is answered as missing (404), never as forbidden, so its existence does not leak.
"""

from __future__ import annotations

from typing import Any

import rules
from django.db.models import QuerySet

from governance.errors import NotAllowed, NotFound
from governance.permissions import user_org_roles, user_project_roles, user_projects_visible
from governance.roles import ADMIN, COMPLIANCE_OFFICER, LABELS, ML_ENGINEER, REVIEWER


def _project_id(obj: Any) -> int | None:
    return getattr(obj, "project_id", None) if obj is not None else None


@rules.predicate
def is_org_wide(user) -> bool:
    """Holds a role across the organisation (sees every project)."""
    return bool(user_org_roles(user))


@rules.predicate
def is_project_member(user, obj) -> bool:
    return _project_id(obj) in user_project_roles(user)


def roles_in_project(user, obj) -> set[str]:
    """The roles `user` holds in `obj`'s project, organisation-wide ones included."""
    return user_org_roles(user) | user_project_roles(user).get(_project_id(obj), set())


def has_role_in_project(*roles: str) -> rules.Predicate:
    def check(user, obj) -> bool:
        names = roles_in_project(user, obj)
        return ADMIN in names or bool(names.intersection(roles))

    return rules.predicate(check, name=f"has_role_in_project:{'|'.join(roles)}")


can_view = is_org_wide | is_project_member
is_admin = rules.predicate(lambda user: ADMIN in user_org_roles(user), name="is_admin")

rules.add_perm("accounts.view_project_object", can_view)
rules.add_perm("accounts.engineer_project_object", can_view & has_role_in_project(ML_ENGINEER))
rules.add_perm("accounts.review_project_object", can_view & has_role_in_project(REVIEWER))
rules.add_perm("accounts.officiate_project_object", can_view & has_role_in_project(COMPLIANCE_OFFICER))
# Projects and their members are managed by admins and organisation-wide compliance officers.
rules.add_perm("accounts.manage_projects",
               is_admin | rules.predicate(lambda user: COMPLIANCE_OFFICER in user_org_roles(user),
                                          name="is_org_compliance_officer"))


def object_visible(user, obj) -> bool:
    return rules.has_perm("accounts.view_project_object", user, obj)


def object_require_visible(user, obj, *, what: str = "object") -> None:
    """NotFound (404) unless `user` sees `obj`'s project."""
    if not object_visible(user, obj):
        raise NotFound(f"No such {what}.")


def object_has_role(user, obj, *roles: str) -> bool:
    return object_visible(user, obj) and has_role_in_project(*roles)(user, obj)


def object_require_role(user, obj, *roles: str, what: str = "object") -> None:
    """NotFound (404) unless `user` sees `obj`'s project; NotAllowed (403) unless they hold one of `roles` in
    it (or across the organisation)."""
    object_require_visible(user, obj, what=what)
    if not has_role_in_project(*roles)(user, obj):
        names = ", ".join(LABELS[r] for r in roles)
        raise NotAllowed(f"This action needs one of the roles {names} in this object's project.")


projects_visible_ids = user_projects_visible


def project_scoped(queryset: QuerySet, *, user, via: str = "project") -> QuerySet:
    """`queryset` narrowed to the projects `user` sees; `via` is the lookup path from its rows to the project
    (e.g. "model_version__model__project"). `user=None` is the system (workers, exports it builds): all rows."""
    if user is None:
        return queryset
    visible = projects_visible_ids(user)
    if visible is None:
        return queryset
    return queryset.filter(**{f"{via}__in": visible})


def projects_with_role(user, *roles: str) -> set[int] | None:
    """The projects where `user` may act with one of `roles`; None: every project (organisation-wide)."""
    org = user_org_roles(user)
    if ADMIN in org or org.intersection(roles):
        return None
    return {pk for pk, names in user_project_roles(user).items() if names.intersection(roles)}
