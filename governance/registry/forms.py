from django import forms

from governance.registry.choices import EncoderChoice, Environment, ModelKind, PoolingChoice
from governance.registry.models import PretrainedEncoder


class TrainForm(forms.Form):
    project = forms.ModelChoiceField(queryset=None, required=False,
                                     help_text="The model's project (your only one if blank).")
    model_name = forms.CharField(max_length=200, help_text="A new name creates a model in the project; an existing "
                                                           "one adds a version.")
    dataset_version = forms.ModelChoiceField(queryset=None)
    kind = forms.ChoiceField(choices=ModelKind.choices, initial=ModelKind.CLASSIFIER, label="Model kind", required=False,
                             help_text="A generative model is a small byte-level causal decoder trained from scratch "
                                       "on the texts (the encoder settings below do not apply).")
    canaries = forms.BooleanField(required=False, initial=True, label="Plant canaries (generative models)",
                                  help_text="Random secrets inserted 1, 4 and 16 times into the training copy, so "
                                            "the memorisation audit can measure their exposure.")
    encoder = forms.ChoiceField(choices=EncoderChoice.choices, initial=EncoderChoice.PRETRAINED)
    pretrained_encoder = forms.ModelChoiceField(
        queryset=PretrainedEncoder.objects.all(), required=False, label="Registered encoder",
        help_text="Used when the encoder is 'a registered pretrained encoder'; its digest is checked before training.")
    pooling = forms.ChoiceField(choices=PoolingChoice.choices, initial=PoolingChoice.MEAN, label="Head pooling",
                                required=False)
    freeze_encoder = forms.BooleanField(required=False, initial=True,
                                        help_text="Train only the classification head (fast on CPU).")
    epochs = forms.IntegerField(min_value=1, max_value=50, initial=8)
    seed = forms.IntegerField(min_value=0, initial=0)
    dp = forms.BooleanField(
        required=False, label="Differentially private head (DP-SGD)",
        help_text="Fresh, unstored noise per run; every epoch runs and the last is kept (no selection on "
                  "validation data); datasets with sample weights (reweighed) are refused.")
    dp_epsilon = forms.FloatField(min_value=0.1, max_value=100, required=False, label="Target ε")
    intended_purpose = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or ModelKind.CLASSIFIER  # a form posted before issue 23 trains a classifier

    def __init__(self, *args, user, **kwargs):
        from governance.accounts.projects import project_choices
        from governance.datasets.selectors import dataset_version_list
        from governance.roles import ML_ENGINEER

        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = project_choices(user=user, role=ML_ENGINEER)
        self.fields["dataset_version"].queryset = dataset_version_list(user=user)
        self.fields["dataset_version"].label_from_instance = _version_label

    def clean_pooling(self) -> str:
        return self.cleaned_data.get("pooling") or PoolingChoice.MEAN


def _version_label(version) -> str:
    """A dataset version as a choice: a split's part says which (train, validation, holdout)."""
    return f"{version} — {version.split_role} part of a split" if version.split_role else str(version)


class DeploymentChangeForm(forms.Form):
    """Roll back or retire the version serving in an environment."""

    environment = forms.ChoiceField(choices=Environment.choices)
    reason = forms.CharField(max_length=180)


class MitigationForm(forms.Form):
    """Fit group thresholds (fairlearn's ThresholdOptimizer) for a binary model version."""

    dataset_version = forms.ModelChoiceField(
        queryset=None,
        help_text="Data to fit the thresholds on. The training data's held-out validation split is used when it "
                  "is the training dataset; any other dataset is used whole. Audit the result on other data.")
    constraint = forms.ChoiceField(choices=[("demographic_parity", "Demographic parity (equal selection rates)"),
                                            ("equalized_odds", "Equalized odds (equal TPR and FPR)")])
    attribute = forms.CharField(max_length=100, initial="gender",
                                help_text="The sensitive attribute whose groups get their own thresholds.")

    def __init__(self, *args, user, **kwargs):
        from governance.datasets.selectors import dataset_version_list

        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].queryset = dataset_version_list(user=user)


class PretrainedEncoderForm(forms.Form):
    """Register an external pretrained encoder from a zipped Hugging Face model folder."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False,
                                  help_text="Where it comes from (e.g. the Hugging Face model id), its licence.")
    archive = forms.FileField(label="Model folder (.zip)",
                              help_text="config.json, model.safetensors and tokenizer.json of a BERT-family model. "
                                        "Pickle checkpoints (.bin, .pt, .pth, .pkl, .ckpt) are refused.")


class ModelImportForm(forms.Form):
    """Import a classifier fine-tuned elsewhere (a zipped Hugging Face …ForSequenceClassification folder)."""

    project = forms.ModelChoiceField(queryset=None, required=False, help_text="Your only project if blank.")
    model_name = forms.CharField(max_length=200, help_text="A new name creates a model; an existing one adds a "
                                                           "version.")
    archive = forms.FileField(label="Zipped model folder", help_text="config.json, model.safetensors, tokenizer.json; "
                                                                     "pickle checkpoints are refused.")
    declared_training_data = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}),
                                             help_text="What it was trained on: provenance, scope, period.")
    intended_purpose = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    label_names = forms.CharField(required=False, help_text="Comma-separated names of the outputs in order, if "
                                                            "config.json's id2label does not name them.")

    def __init__(self, *args, user, **kwargs):
        from governance.accounts.projects import project_choices
        from governance.roles import ML_ENGINEER

        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = project_choices(user=user, role=ML_ENGINEER)

    def clean_label_names(self) -> list[str] | None:
        return [p.strip() for p in self.cleaned_data["label_names"].split(",") if p.strip()] or None


class GenerateForm(forms.Form):
    """The playground of a generative version: one prompt, a decoding strategy, a seed."""

    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, strip=False)
    strategy = forms.ChoiceField(choices=[("greedy", "Greedy"), ("top_k", "Top-k sampling"),
                                          ("top_p", "Top-p (nucleus) sampling")], initial="greedy")
    max_new_tokens = forms.IntegerField(min_value=1, max_value=512, initial=40)
    top_k = forms.IntegerField(min_value=1, max_value=100000, initial=40)
    top_p = forms.FloatField(min_value=0.001, max_value=1.0, initial=0.9)
    temperature = forms.FloatField(min_value=0.01, max_value=10.0, initial=1.0)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)


class DecoderImportForm(forms.Form):
    """Import a zipped Hugging Face GPT-2-family folder as a generative version."""

    project = forms.ModelChoiceField(queryset=None, required=False, help_text="The model's project (your only one if "
                                                                              "blank).")
    model_name = forms.CharField(max_length=200)
    archive = forms.FileField(label="Model folder (.zip)",
                              help_text="config.json, model.safetensors and tokenizer.json of a GPT-2-family model. "
                                        "Pickle checkpoints (.bin, .pt, .pth, .pkl, .ckpt) are refused.")
    intended_purpose = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, user, **kwargs):
        from governance.accounts.projects import project_choices
        from governance.roles import ML_ENGINEER

        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = project_choices(user=user, role=ML_ENGINEER)
