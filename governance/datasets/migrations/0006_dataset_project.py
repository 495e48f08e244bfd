"""Every dataset belongs to a project (issue 17): existing ones go to the "default" project; names are unique
within a project."""

from django.db import migrations, models
import django.db.models.deletion


def to_default_project(apps, schema_editor):
    Project = apps.get_model("accounts", "Project")
    Dataset = apps.get_model("datasets", "Dataset")
    if Dataset.objects.filter(project__isnull=True).exists():
        project, _ = Project.objects.get_or_create(slug="default", defaults={"name": "Default project"})
        Dataset.objects.filter(project__isnull=True).update(project=project)


class Migration(migrations.Migration):
    dependencies = [("datasets", "0005_metadata_confirmation"), ("accounts", "0002_projects")]

    operations = [
        migrations.AddField(
            model_name="dataset", name="project",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="datasets",
                                    to="accounts.project"),
        ),
        migrations.RunPython(to_default_project, migrations.RunPython.noop),
    ]
