from django import forms

from governance.datasets.models import DatasetVersion
from governance.registry.choices import VersionStatus
from governance.registry.models import ModelVersion


class AuditForm(forms.Form):
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.filter(status=VersionStatus.READY).select_related("model"))
    dataset_version = forms.ModelChoiceField(queryset=DatasetVersion.objects.select_related("dataset"),
                                             help_text="A held-out dataset version to audit on.")
    explain_rows = forms.IntegerField(min_value=0, max_value=500, initial=50,
                                      help_text="Rows explained with SHAP, LIME and Integrated Gradients.")
