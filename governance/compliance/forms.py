from django import forms

from governance.compliance.documentation import EDITABLE, MAX_LENGTH
from governance.compliance.models import (ErasureException, ErasureGround, ModelDecision, ModelDocumentation,
                                          OrganisationProfile, RequestKind)


class OrganisationProfileForm(forms.ModelForm):
    class Meta:
        model = OrganisationProfile
        fields = ["controller_name", "controller_contact", "joint_controllers", "representative", "dpo_name",
                  "dpo_contact", "security_measures"]
        widgets = {"joint_controllers": forms.Textarea(attrs={"rows": 2}),
                   "security_measures": forms.Textarea(attrs={"rows": 4})}
        labels = {"security_measures": "Security measures (Art. 32(1), record point (g))",
                  "dpo_name": "Data protection officer", "dpo_contact": "DPO contact"}


class SubjectRequestForm(forms.Form):
    kind = forms.ChoiceField(choices=RequestKind.choices)
    subject_id = forms.CharField(max_length=200, label="Subject identifier",
                                 help_text="As it appears in the datasets' subject column.")
    received_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="Defaults to today; the answer is due one month later (Art. 12(3)).")
    channel = forms.CharField(max_length=100, required=False, help_text="E-mail, letter, web form…")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class ExtendForm(forms.Form):
    months = forms.TypedChoiceField(choices=[(1, "One month"), (2, "Two months")], coerce=int)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="The subject must be told the reasons within the first month.")


class FulfilForm(forms.Form):
    ground = forms.ChoiceField(choices=[("", "—")] + list(ErasureGround.choices), label="Ground (Art. 17(1))")
    exception = forms.ChoiceField(choices=ErasureException.choices, required=False,
                                  label="Exception (Art. 17(3))", help_text="An exception refuses the erasure.")
    exception_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    redact_mentions = forms.BooleanField(required=False, label="Also redact mentions in other records",
                                         help_text="Replace the subject's identifiers where other people's dataset "
                                                   "records name them (listed above) with a note of this request; "
                                                   "notes, comments and reasons are redacted in any case.")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[(ModelDecision.RETRAIN, ModelDecision.RETRAIN.label),
                                          (ModelDecision.KEEP, ModelDecision.KEEP.label)])
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                    help_text="Required to keep the model version.")


class ModelDocumentationForm(forms.ModelForm):
    intended_purpose = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                       max_length=MAX_LENGTH)

    class Meta:
        model = ModelDocumentation
        fields = list(EDITABLE)
        widgets = {name: forms.Textarea(attrs={"rows": 2}) for name in EDITABLE if name != "provider"}


class DatasetMetadataForm(forms.ModelForm):
    """A dataset's personal-data metadata (GDPR Art. 30(1)(b)–(f), Art. 6, Art. 35), kept by the officer."""

    class Meta:
        from governance.datasets.models import Dataset

        model = Dataset
        fields = ["description", "lawful_basis", "purposes", "data_subject_categories", "personal_data_categories",
                  "special_categories", "recipients", "third_country_transfers", "transfer_safeguards",
                  "retention_days", "source", "dpia_reference"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}), "purposes": forms.Textarea(attrs={"rows": 2})}
        labels = {"special_categories": "Special categories of data (Art. 9)",
                  "retention_days": "Retention period (days)", "dpia_reference": "DPIA reference (Art. 35)"}
