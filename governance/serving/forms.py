from __future__ import annotations

import json

from django import forms

from governance.registry.choices import Environment
from governance.serving.models import MonitoringWindow


class ServiceTokenForm(forms.Form):
    model = forms.ModelChoiceField(queryset=None, help_text="The only model the token may ask.")
    environment = forms.ChoiceField(choices=Environment.choices)
    name = forms.CharField(max_length=100, help_text="Who or what uses it (e.g. the loan-intake service).")

    def __init__(self, *args, models=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = models


class MonitoringRequestForm(forms.Form):
    deployment = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    window = forms.ChoiceField(choices=MonitoringWindow.choices)


class ServingPolicyForm(forms.Form):
    store_text = forms.BooleanField(required=False, label="Keep input texts in the decision log",
                                    help_text="Off: only each text's SHA-256 is kept.")
    retention_days = forms.IntegerField(min_value=1, max_value=36500, label="Keep decisions (days)")
    min_decisions = forms.IntegerField(min_value=1, label="Fewest decisions a window needs to be judged")
    max_psi = forms.FloatField(required=False, min_value=0, label="Max PSI against the training data")
    max_prediction_shift = forms.FloatField(required=False, min_value=0, max_value=1,
                                            label="Max change of a predicted label's share")
    fairness_rules = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                     label="Fairness rules (JSON list)",
                                     help_text='e.g. [{"metric": "demographic_parity_difference", "grouping": "*", '
                                               '"max": 0.1, "judge_on": "upper"}]')
    n_boot = forms.IntegerField(min_value=0, max_value=5000, label="Bootstrap replicates")
    auto_suspend = forms.BooleanField(required=False, label="Suspend the deployment on an alert")
    alert_emails = forms.CharField(required=False, max_length=2000, label="E-mail alerts to (comma-separated)")

    def clean_fairness_rules(self):
        text = (self.cleaned_data.get("fairness_rules") or "").strip()
        if not text:
            return []
        try:
            rules = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}") from exc
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            raise forms.ValidationError("A JSON list of rule objects.")
        return rules
