from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "governance.datasets"
    label = "datasets"
    verbose_name = "Datasets"
