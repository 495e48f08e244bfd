"""A job carries its subject's project (issue 17), so job lists are scoped like the objects. Every object that
existed before projects went to the "default" project, so every existing job of a subject that has a project
(all kinds but webhook deliveries) goes there too."""

from django.db import migrations, models

SUBJECTS_WITH_A_PROJECT = ["registry.modelversion", "audits.audit", "datasets.datasetversion",
                           "datasets.datasetdrift"]


def to_default_project(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    Project = apps.get_model("accounts", "Project")
    jobs = Job.objects.filter(project_id__isnull=True, subject_type__in=SUBJECTS_WITH_A_PROJECT)
    if jobs.exists():
        project, _ = Project.objects.get_or_create(slug="default", defaults={"name": "Default project"})
        jobs.update(project_id=project.pk)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_handed_back"), ("accounts", "0002_projects")]

    operations = [
        migrations.AddField(model_name="job", name="project_id",
                            field=models.BigIntegerField(blank=True, db_index=True, null=True)),
        migrations.RunPython(to_default_project, migrations.RunPython.noop),
    ]
