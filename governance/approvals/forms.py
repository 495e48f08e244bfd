from django import forms

from governance.audits.models import Audit, AuditStatus
from governance.registry.choices import Environment, VersionStatus
from governance.registry.models import ModelVersion


class DeploymentRequestForm(forms.Form):
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.filter(status=VersionStatus.READY).select_related("model"))
    environment = forms.ChoiceField(choices=Environment.choices)
    audit = forms.ModelChoiceField(queryset=Audit.objects.filter(status=AuditStatus.COMPLETE)
                                   .select_related("model_version__model"))
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))


class ApproveForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, help_text="Re-enter your password to sign the approval.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
