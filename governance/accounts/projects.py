"""Projects and memberships: reads and writes (kept apart from the user and TOTP services they would crowd).

Managed by admins and organisation-wide compliance officers; every change is appended to the audit log.
"""

from __future__ import annotations

import rules
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.utils.text import slugify

from governance.accounts.models import DEFAULT_PROJECT_SLUG, Membership, Project
from governance.accounts.predicates import project_scoped, projects_with_role
from governance.auditlog.services import audit_log_append
from governance.errors import NotAllowed, NotFound, ValidationFailed
from governance.permissions import user_roles_forget
from governance.roles import LABELS, PROJECT_ROLES


# ------------------------------------------------------------------------------------------------ reads
def membership_roles(*, user) -> dict[int, set[str]]:
    """{project id: role names} of `user` (the permissions' `project_roles` hook): one query a request."""
    roles: dict[int, set[str]] = {}
    for project_id, role in Membership.objects.filter(user=user).values_list("project_id", "role"):
        roles.setdefault(project_id, set()).add(role)
    return roles


def project_list(*, user) -> QuerySet[Project]:
    """The projects `user` sees (all for an organisation-wide role), with their member counts."""
    return project_scoped(Project.objects.annotate(member_count=Count("memberships__user", distinct=True)),
                          user=user, via="pk").order_by("name")


def project_get(*, project_id: int, user) -> Project:
    project = project_list(user=user).filter(pk=project_id).first()
    if project is None:
        raise NotFound("No such project.")
    return project


def project_choices(*, user, role: str) -> QuerySet[Project]:
    """The projects where `user` may create something with `role` (a form's select, the API's `project`)."""
    ids = projects_with_role(user, role)
    qs = Project.objects.all()
    return qs if ids is None else qs.filter(pk__in=ids)


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return Membership.objects.filter(project=project).select_related("user").order_by("user__username", "role")


def project_for_create(*, actor, project: Project | int | None, role: str) -> Project:
    """The project a new dataset or model goes to: the one named, if `actor` holds `role` in it; else, when
    none is named, their only such project. ValidationFailed (field "project") otherwise: an unknown project
    and one they are not a member of read the same, so the names of other teams' projects do not leak."""
    choices = project_choices(user=actor, role=role)
    if project is None or project == "":
        only = list(choices[:2])
        if len(only) == 1:
            return only[0]
        raise ValidationFailed("Choose the project." if only else
                               f"You hold the role {LABELS[role]} in no project.", field="project")
    project_id = project.pk if isinstance(project, Project) else project
    try:
        return choices.get(pk=int(project_id))
    except (Project.DoesNotExist, TypeError, ValueError):
        raise ValidationFailed(f"Choose one of the projects where you hold the role {LABELS[role]}.",
                               field="project") from None


# ----------------------------------------------------------------------------------------------- writes
def project_default() -> Project:
    """The "default" project (the migration made it; a flushed test database may not have it)."""
    project, _ = Project.objects.get_or_create(slug=DEFAULT_PROJECT_SLUG, defaults={"name": "Default project"})
    return project


@transaction.atomic
def project_create(*, actor, name: str, slug: str = "", description: str = "") -> Project:
    """A new project (`actor` None: the system, e.g. the demo loader)."""
    projects_manage_require(actor=actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A project needs a name.", field="name")
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationFailed("A project needs a slug of letters, digits or hyphens.", field="slug")
    if Project.objects.filter(slug=slug).exists():
        raise ValidationFailed("A project with that slug exists.", field="slug")
    project = Project.objects.create(slug=slug, name=name[:200], description=description)
    audit_log_append(actor=actor, action="project.created", obj=project, payload={"slug": slug, "name": name})
    return project


def _user(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise ValidationFailed("No user with that username.", field="username")
    return user


@transaction.atomic
def membership_add(*, actor, project: Project, username: str, role: str) -> Membership:
    projects_manage_require(actor=actor)
    if role not in PROJECT_ROLES:
        raise ValidationFailed(f"'{role}' is not a project role.", field="role")
    user = _user(username)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=user, project=project, role=role)
    except IntegrityError:
        raise ValidationFailed(f"{username} already holds that role in {project}.", field="role") from None
    user_roles_forget(user)
    audit_log_append(actor=actor, action="project.member_added", obj=project,
                     payload={"project": project.slug, "user": user.pk, "role": role})
    return membership


@transaction.atomic
def membership_remove(*, actor, project: Project, username: str, role: str) -> None:
    projects_manage_require(actor=actor)
    user = _user(username)
    deleted, _ = Membership.objects.filter(user=user, project=project, role=role).delete()
    if not deleted:
        raise ValidationFailed(f"{username} holds no such role in {project}.", field="role")
    user_roles_forget(user)
    audit_log_append(actor=actor, action="project.member_removed", obj=project,
                     payload={"project": project.slug, "user": user.pk, "role": role})


def projects_can_manage(*, user) -> bool:
    return rules.has_perm("accounts.manage_projects", user)


def projects_manage_require(*, actor) -> None:
    if actor is not None and not projects_can_manage(user=actor):
        raise NotAllowed("Projects are managed by administrators and organisation-wide compliance officers.")


@transaction.atomic
def memberships_sync_from_sso(*, user, memberships: list[tuple[str, str]], **_signal) -> tuple[list, list]:
    """Receiver of accounts.signals.oidc_memberships_claimed: the user's project memberships become exactly what
    the identity provider's groups claim grants at this sign-in ("governance:project:<slug>:<role>"); slugs of
    projects that do not exist here and roles that are not project roles are ignored. Each membership added or
    removed is logged as a project's member change, the user as actor and "sso" as the source. Returns
    (added, removed) as (slug, role) pairs."""
    wanted = {(slug, role) for slug, role in memberships if role in PROJECT_ROLES}
    projects = {p.slug: p for p in Project.objects.filter(slug__in={slug for slug, _ in wanted})}
    wanted = {(slug, role) for slug, role in wanted if slug in projects}
    current = {(m.project.slug, m.role): m for m in Membership.objects.filter(user=user).select_related("project")}
    added, removed = sorted(wanted - current.keys()), sorted(current.keys() - wanted)
    for slug, role in added:
        Membership.objects.create(user=user, project=projects[slug], role=role)
        audit_log_append(actor=user, action="project.member_added", obj=projects[slug],
                         payload={"project": slug, "user": user.pk, "role": role, "source": "sso"})
    for slug, role in removed:
        membership = current[(slug, role)]
        membership.delete()
        audit_log_append(actor=user, action="project.member_removed", obj=membership.project,
                         payload={"project": slug, "user": user.pk, "role": role, "source": "sso"})
    if added or removed:
        user_roles_forget(user)
    return added, removed


def sso_memberships_receive(sender, *, user, memberships, **kwargs) -> None:
    memberships_sync_from_sso(user=user, memberships=memberships)
