"""Projects and memberships (issue 17). Existing users holding a global ML engineer or reviewer role become
members of the "default" project with that role and leave the global group (which would hold it in every
project); compliance officers, auditors and admins stay organisation-wide."""

from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion

MOVED_ROLES = ["ml_engineer", "reviewer"]


def default_project_and_memberships(apps, schema_editor):
    Project = apps.get_model("accounts", "Project")
    Membership = apps.get_model("accounts", "Membership")
    Group = apps.get_model("auth", "Group")
    project, _ = Project.objects.get_or_create(slug="default", defaults={"name": "Default project"})
    for group in Group.objects.filter(name__in=MOVED_ROLES):
        for user in group.user_set.all():
            Membership.objects.get_or_create(user=user, project=project, role=group.name)
        group.user_set.clear()


def back_to_groups(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    Group = apps.get_model("auth", "Group")
    for membership in Membership.objects.filter(project__slug="default", role__in=MOVED_ROLES):
        Group.objects.get(name=membership.role).user_set.add(membership.user)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_roles"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Project",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slug", models.SlugField(max_length=60, unique=True)),
                ("name", models.CharField(max_length=200)),
                ("description", models.TextField(blank=True, default="")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.CreateModel(
            name="Membership",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("role", models.CharField(choices=[("ml_engineer", "ML engineer"), ("reviewer", "Reviewer"),
                                                   ("compliance_officer", "Compliance officer"),
                                                   ("auditor", "Auditor (read-only)")], max_length=30)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("project", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="memberships",
                                              to="accounts.project")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="memberships",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["project__name", "user__username", "role"],
                     "constraints": [models.UniqueConstraint(fields=("user", "project", "role"),
                                                             name="uniq_membership_role")]},
        ),
        migrations.RunPython(default_project_and_memberships, back_to_groups),
    ]
