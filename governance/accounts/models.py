"""Projects (teams) and who holds which role in each.

Roles are still django.contrib.auth groups (see governance/roles.py) where they hold across the organisation
(compliance officers, auditors, administrators); a Membership gives one user one role within one project.
Every dataset and model belongs to one project; their versions, audits, deployment requests and deployments
follow from them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.roles import LABELS, PROJECT_ROLES

DEFAULT_PROJECT_SLUG = "default"


class Project(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def project_id(self) -> int:  # a project is in itself (the predicates read `project_id` of any object)
        return self.pk


class Membership(models.Model):
    """`user` holds `role` in `project`; one row a role, so a user may hold several in one project."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=30, choices=[(r, LABELS[r]) for r in PROJECT_ROLES])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project__name", "user__username", "role"]
        constraints = [models.UniqueConstraint(fields=["user", "project", "role"], name="uniq_membership_role")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} in {self.project}"
