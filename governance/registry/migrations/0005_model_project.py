"""Every model belongs to a project (issue 17): existing ones go to the "default" project; names are unique
within a project."""

from django.db import migrations, models
import django.db.models.deletion


def to_default_project(apps, schema_editor):
    Project = apps.get_model("accounts", "Project")
    Model = apps.get_model("registry", "Model")
    if Model.objects.filter(project__isnull=True).exists():
        project, _ = Project.objects.get_or_create(slug="default", defaults={"name": "Default project"})
        Model.objects.filter(project__isnull=True).update(project=project)


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_deployment_suspension"), ("accounts", "0002_projects")]

    operations = [
        migrations.AddField(
            model_name="model", name="project",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="models",
                                    to="accounts.project"),
        ),
        migrations.RunPython(to_default_project, migrations.RunPython.noop),
    ]
