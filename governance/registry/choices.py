from django.db import models


class VersionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Environment(models.TextChoices):
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class EncoderChoice(models.TextChoices):
    PRETRAINED = "pretrained", "Built-in pretrained MiniLM-L6 encoder (default)"
    REGISTERED = "registered", "A registered pretrained encoder (choose it below)"
    SCRATCH = "scratch", "From scratch (WordPiece trained on the data)"


class PoolingChoice(models.TextChoices):
    MEAN = "mean", "Mean of the token vectors (default)"
    CLS_POOLER = "cls_pooler", "BERT pooler over [CLS] (as Hugging Face's BertForSequenceClassification)"
class ModelKind(models.TextChoices):
    CLASSIFIER = "classifier", "Text classifier (encoder)"
    DECODER = "decoder", "Generative language model (causal decoder)"
