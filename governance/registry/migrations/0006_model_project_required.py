"""The project of every model is required (a migration of its own: PostgreSQL refuses to alter a table whose
rows the previous migration's data step updated in the same transaction)."""

from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [("registry", "0005_model_project")]

    operations = [
        migrations.AlterField(
            model_name="model", name="project",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="models",
                                    to="accounts.project"),
        ),
        migrations.AlterField(model_name="model", name="name", field=models.CharField(max_length=200)),
        migrations.AddConstraint(
            model_name="model",
            constraint=models.UniqueConstraint(fields=("project", "name"), name="uniq_model_name_in_project"),
        ),
    ]
