from django import forms

from governance.registry.choices import VersionStatus


def version_label(version) -> str:
    """A dataset version as a choice: a split's part says which (train, validation, holdout)."""
    return f"{version} — {version.split_role} part of a split" if version.split_role else str(version)


class AuditForm(forms.Form):
    model_version = forms.ModelChoiceField(queryset=None)
    dataset_version = forms.ModelChoiceField(queryset=None, help_text="A held-out dataset version to audit on.")
    explain_rows = forms.IntegerField(min_value=0, max_value=500, initial=50,
                                      help_text="Rows explained with SHAP, LIME and Integrated Gradients.")
    word_pairs = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Counterfactual word pairs",
        help_text="One pair per line, female term first (e.g. \"she, he\"). Empty: the default gendered words "
                  "and names.")

    overlap_justification = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
        label="Justification for auditing on training rows",
        help_text="Only when the dataset version holds rows the model was trained on (refused otherwise); the "
                  "report will be flagged.")
    scorer_version = forms.ModelChoiceField(
        queryset=None, required=False, label="Prompt-swap scorer",
        help_text="Generative versions only: a classifier version (e.g. sentiment) scoring continuations.")
    robustness = forms.BooleanField(required=False, initial=True, label="Robustness tests",
                                    help_text="Typos, casing, punctuation, contractions, irrelevant sentences, name "
                                              "swaps across origins, numbers; directional expectations; a greedy "
                                              "word-substitution attack.")
    robustness_expectations = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Directional expectations",
        help_text="One per line: “phrase | down” (adding it should not raise the score) or “phrase | up”, "
                  "optionally “| tolerance” (default 0.1). E.g. “Two missed payments. | down”.")
    robustness_max_texts = forms.IntegerField(required=False, min_value=20, max_value=100_000,
                                              label="Robustness: texts tested at most", help_text="Default 1000.")

    def clean_robustness_expectations(self) -> list[dict] | None:
        from governance.audits.robustness import expectations_parse
        from governance.errors import ValidationFailed

        try:
            return expectations_parse(self.cleaned_data["robustness_expectations"]) or None
        except ValidationFailed as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_word_pairs(self) -> list[list[str]] | None:
        lines = [line for line in self.cleaned_data["word_pairs"].splitlines() if line.strip()]
        pairs = [[w.strip() for w in line.split(",")] for line in lines]
        bad = [line.strip() for line, pair in zip(lines, pairs) if len(pair) != 2 or not all(pair)]
        if bad:
            raise forms.ValidationError(f"Write two words separated by a comma on each line: {bad[0]!r}.")
        return pairs or None

    def __init__(self, *args, user, **kwargs):
        from governance.datasets.selectors import dataset_version_list
        from governance.registry.selectors import model_version_list

        super().__init__(*args, **kwargs)
        self.fields["model_version"].queryset = model_version_list(user=user).filter(status=VersionStatus.READY)
        self.fields["dataset_version"].queryset = dataset_version_list(user=user)
        self.fields["dataset_version"].label_from_instance = version_label
        self.fields["scorer_version"].queryset = model_version_list(user=user).filter(
            status=VersionStatus.READY, kind="classifier")


class AuditCompareForm(forms.Form):
    a = forms.ModelChoiceField(label="Audit A", queryset=None)
    b = forms.ModelChoiceField(label="Audit B", queryset=None)

    def __init__(self, *args, user, **kwargs):
        from governance.audits.models import AuditStatus
        from governance.audits.selectors import audit_list

        super().__init__(*args, **kwargs)
        complete = audit_list(user=user).filter(status=AuditStatus.COMPLETE)
        for name in ("a", "b"):
            self.fields[name].queryset = complete
            self.fields[name].label_from_instance = lambda audit: (
                f"#{audit.pk} — {audit.model_version} on {audit.dataset_version}")


class AuditTextRevealForm(forms.Form):
    """Reveal one masked text of an audit's results (choices: audits.minimisation.masked_texts)."""

    ref = forms.ChoiceField(label="Text", choices=())
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=1000,
                             help_text="Why you need to see this text; kept in the audit log (the text is not).")

    def __init__(self, *args, texts: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ref"].choices = [(t["ref"], f"{t['label']}: {t['masked'][:80]}") for t in texts]
