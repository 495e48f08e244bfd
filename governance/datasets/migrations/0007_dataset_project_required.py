"""The project of every dataset is required (a migration of its own: PostgreSQL refuses to alter a table whose
rows the previous migration's data step updated in the same transaction)."""

from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [("datasets", "0006_dataset_project")]

    operations = [
        migrations.AlterField(
            model_name="dataset", name="project",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="datasets",
                                    to="accounts.project"),
        ),
        migrations.AlterField(model_name="dataset", name="name", field=models.CharField(max_length=200)),
        migrations.AddConstraint(
            model_name="dataset",
            constraint=models.UniqueConstraint(fields=("project", "name"), name="uniq_dataset_name_in_project"),
        ),
    ]
