from django import forms
from django.contrib.auth.models import User

from governance.roles import REVIEWER
from governance.approvals.gates import GATES
from governance.audits.models import AuditStatus
from governance.registry.choices import Environment, VersionStatus


class DeploymentRequestForm(forms.Form):
    model_version = forms.ModelChoiceField(queryset=None)
    environment = forms.ChoiceField(choices=Environment.choices)
    audit = forms.ModelChoiceField(queryset=None)
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, user, **kwargs):
        from governance.audits.selectors import audit_list
        from governance.registry.selectors import model_version_list

        super().__init__(*args, **kwargs)
        self.fields["model_version"].queryset = model_version_list(user=user).filter(status=VersionStatus.READY)
        self.fields["audit"].queryset = audit_list(user=user).filter(status=AuditStatus.COMPLETE)


class StepUpFields(forms.Form):
    """The step-up that signs a decision: the password, or the code of a confirmed TOTP device."""

    password = forms.CharField(widget=forms.PasswordInput, required=False,
                               help_text="Re-enter your password to sign (accounts without a TOTP device).")
    otp_token = forms.CharField(label="TOTP code", max_length=10, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
                                help_text="The current code of your TOTP device, if you enrolled one.")


class ApproveForm(StepUpFields):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}))


class WaiverForm(StepUpFields):
    gate = forms.ChoiceField(choices=list(GATES.items()))
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    expires_at = forms.DateTimeField(label="Expires at (UTC)", help_text="e.g. 2027-03-31 18:00",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class PolicyForm(forms.Form):
    required_approvals = forms.IntegerField(min_value=1, max_value=10, help_text="N: distinct reviewers needed.")
    approvers = forms.ModelMultipleChoiceField(
        queryset=User.objects.filter(groups__name=REVIEWER).order_by("username"), required=False,
        help_text="M: the reviewers who may approve here (none selected: every reviewer).")
    min_accuracy = forms.FloatField(min_value=0, max_value=1, required=False)
    fairness_rules = forms.JSONField(required=False, initial=list, widget=forms.Textarea(attrs={"rows": 4}),
                                     help_text='e.g. [{"metric": "demographic_parity_difference", "grouping": "*", '
                                               '"max": 0.1, "undefined": "fail"}] — "max" is judged on the upper '
                                               'confidence bound; "undefined": "fail" fails the gate when a group '
                                               'has no positives/negatives to measure (default "zero": counted as 0, '
                                               'as fairlearn does).')
    max_audit_age_days = forms.IntegerField(min_value=1, max_value=3650, required=False)
    require_explanations = forms.BooleanField(required=False)
    max_invariance_flip_rate = forms.FloatField(
        min_value=0, max_value=1, required=False, label="Robustness: max. invariance flip rate",
        help_text="e.g. 0.05; judged on the upper confidence bound of every invariance suite's flip rate.")
    max_directional_failure_rate = forms.FloatField(
        min_value=0, max_value=1, required=False, label="Robustness: max. directional failure rate",
        help_text="Upper bound of each directional expectation's failure rate; the audit must test at least one.")
    max_attack_success_rate = forms.FloatField(
        min_value=0, max_value=1, required=False, label="Robustness: max. attack success rate",
        help_text="Upper bound of the word-substitution attack's success rate.")
    require_dpia_for_personal_data = forms.BooleanField(required=False, label="Require a DPIA for personal data")
    require_lawful_basis = forms.BooleanField(required=False)
    max_canary_exposure = forms.FloatField(min_value=0, max_value=64, required=False, label="Max. canary exposure (bits)",
                                           help_text="Generative versions: judged on the upper end of the largest "
                                                     "inserted canary's interval.")
    forbid_pii_extraction = forms.BooleanField(required=False, label="No exact extraction of personal data",
                                               help_text="Generative versions: fail when the memorisation audit "
                                                         "reproduced a training record's personal data.")
    require_totp = forms.BooleanField(required=False, label="Require two-factor (TOTP) to approve and waive",
                                      help_text="Reviewers and compliance officers sign with a code from an enrolled "
                                                "TOTP device; a password is not enough, and without a device they "
                                                "cannot sign here.")
