from django import forms

from governance.datasets.choices import LawfulBasis
from governance.roles import ML_ENGINEER


class DatasetUploadForm(forms.Form):
    project = forms.ModelChoiceField(queryset=None, required=False,
                                     help_text="The project a new dataset belongs to (your only one if blank).")
    name = forms.CharField(max_length=200, required=False, help_text="Name of a new dataset.")
    dataset = forms.ModelChoiceField(queryset=None, required=False,
                                     help_text="Or pick an existing dataset to add a version to it.")
    file = forms.FileField(help_text="CSV with a header row, or JSON Lines.")
    text_column = forms.CharField(max_length=100, initial="text")
    label_column = forms.CharField(max_length=100, initial="label")
    subject_column = forms.CharField(max_length=100, initial="subject_id")
    sensitive_attributes = forms.CharField(max_length=500, required=False,
                                           help_text="Comma-separated column names, e.g. gender, age_band.")
    note = forms.CharField(max_length=300, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    lawful_basis = forms.ChoiceField(choices=LawfulBasis.choices, initial=LawfulBasis.NONE)
    purposes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    data_subject_categories = forms.CharField(max_length=300, required=False)
    personal_data_categories = forms.CharField(max_length=300, required=False)
    special_categories = forms.BooleanField(required=False)
    recipients = forms.CharField(max_length=300, required=False)
    third_country_transfers = forms.CharField(max_length=300, required=False)
    transfer_safeguards = forms.CharField(max_length=300, required=False)
    retention_days = forms.IntegerField(min_value=1, max_value=36500, required=False)
    source = forms.CharField(max_length=300, required=False)
    dpia_reference = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        from governance.accounts.projects import project_choices
        from governance.datasets.selectors import dataset_list

        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = project_choices(user=user, role=ML_ENGINEER)
        self.fields["dataset"].queryset = dataset_list(user=user)

    def clean_sensitive_attributes(self) -> list[str]:
        return [p.strip() for p in self.cleaned_data["sensitive_attributes"].split(",") if p.strip()]


class DatasetCompareForm(forms.Form):
    against = forms.ModelChoiceField(queryset=None, label="Reference version (A)",
                                     help_text="E.g. the data a model was trained on.")
    version = forms.ModelChoiceField(queryset=None, label="Compared version (B)")

    def __init__(self, *args, user, **kwargs):
        from governance.datasets.selectors import dataset_version_list

        super().__init__(*args, **kwargs)
        for name in ("against", "version"):
            self.fields[name].queryset = dataset_version_list(user=user).order_by("dataset__name", "-version")


class DatasetResampleForm(forms.Form):
    seed = forms.IntegerField(min_value=0, max_value=2**32 - 1, initial=0,
                              help_text="Random seed of the draw; the same seed gives the same rows.")


class DatasetReweighForm(forms.Form):
    """No inputs: reweighing is determined by the rows. A form so errors render like every other."""


class DatasetSplitForm(forms.Form):
    """Shares in percent (a share of 0 leaves that part out); by subject, stratified, seeded."""

    train = forms.IntegerField(min_value=0, max_value=99, initial=70, label="Train %")
    validation = forms.IntegerField(min_value=0, max_value=99, initial=15, label="Validation %")
    holdout = forms.IntegerField(min_value=0, max_value=99, initial=15, label="Holdout %")
    seed = forms.IntegerField(min_value=0, max_value=2**32 - 1, initial=0,
                              help_text="The same seed gives the same split.")

    def clean(self):
        data = super().clean()
        parts = [data.get(k) for k in ("train", "validation", "holdout")]
        if all(p is not None for p in parts) and sum(parts) != 100:
            raise forms.ValidationError(f"The shares add up to {sum(parts)}%; they must add up to 100%.")
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {"shares": {k: data[k] / 100 for k in ("train", "validation", "holdout")}, "seed": data["seed"]}
