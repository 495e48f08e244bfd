from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.scoped_inputs import ScopedInput
from governance.datasets.selectors import dataset_version_list
from governance.errors import ValidationFailed
from governance.permissions import role_permission
from governance.roles import ML_ENGINEER, REVIEWER
from governance.api_lists import (CreatedRangeInput, bool_filter, id_filter, instant_filter, list_filters,
                                  ordering_field, search_filter)
from governance.datasets.models import DatasetVersion
from governance.registry import imports, mitigation, selectors, services
from governance.registry.choices import EncoderChoice, Environment, ModelKind, PoolingChoice, VersionStatus
from governance.registry.models import Deployment, DeploymentKind, Model, ModelVersion, PretrainedEncoder
from governance.uploads import UploadPolicy, upload_refusals

EngineerWrites = role_permission(ML_ENGINEER)


class TrainInput(ScopedInput):
    scoped_fields = {"dataset_version": dataset_version_list}

    project = serializers.IntegerField(required=False, allow_null=True, default=None,
                                       help_text="The project (id) of the model: `model_name` is looked up in it "
                                                 "(default: your only project where you are an ML engineer).")
    model_name = serializers.CharField(max_length=200)
    dataset_version = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.none())
    encoder = serializers.ChoiceField(choices=EncoderChoice.choices, default=EncoderChoice.PRETRAINED)
    freeze_encoder = serializers.BooleanField(default=True)
    epochs = serializers.IntegerField(min_value=1, max_value=50, default=8)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    dp = serializers.BooleanField(default=False)
    dp_epsilon = serializers.FloatField(min_value=0.1, max_value=100, required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    intended_purpose = serializers.CharField(required=False, allow_blank=True, default="")
    pretrained_encoder = serializers.PrimaryKeyRelatedField(queryset=PretrainedEncoder.objects.all(), required=False,
                                                            allow_null=True, default=None)
    pooling = serializers.ChoiceField(choices=PoolingChoice.choices, default=PoolingChoice.MEAN)
    kind = serializers.ChoiceField(choices=ModelKind.choices, default=ModelKind.CLASSIFIER,
                                   help_text="decoder: a generative language model trained from scratch on the texts")
    canaries = serializers.BooleanField(default=True, help_text="decoder only: plant canaries for the memorisation "
                                                                "audit (random secrets inserted 1, 4 and 16 times)")


class ModelOutput(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True)

    class Meta:
        model = Model
        fields = ["id", "project", "name", "description", "intended_purpose", "owner", "created_at", "version_count",
                  "latest_version"]


class ModelVersionOutput(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "model", "model_name", "version", "kind", "status", "dataset_version", "parent", "lineage_note",
                  "pretrained_encoder", "training_config", "label_names", "metrics", "compute", "dp", "history",
                  "artifact_digest", "error", "created_by", "created_at", "trained_at"]


class DeploymentOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    artifact_digest = serializers.CharField(source="model_version.artifact_digest", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Deployment
        fields = ["id", "model", "version", "model_version", "artifact_digest", "environment", "kind", "request",
                  "status", "started_at", "started_by", "suspended_at", "suspended_reason", "ended_at",
                  "ended_reason"]

    def get_status(self, deployment) -> str:
        """serving, suspended (its request lost its approval: not serving) or ended, now or at the `at` asked."""
        return deployment.status_at(self.context.get("at"))


class DeploymentsAtOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    environment = serializers.ChoiceField(choices=Environment.choices)
    deployments = DeploymentOutput(many=True)


class DeploymentAtInput(serializers.Serializer):
    at = serializers.DateTimeField()
    environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PRODUCTION)
    model = serializers.IntegerField(min_value=1, required=False)


class DeploymentChangeInput(serializers.Serializer):
    # Not scoped: the service answers another project's model as missing (404), as its page does.
    model = serializers.PrimaryKeyRelatedField(queryset=Model.objects.all())
    environment = serializers.ChoiceField(choices=Environment.choices)
    reason = serializers.CharField(max_length=180)


class ModelFilterInput(CreatedRangeInput):
    q = search_filter("Name or owner's username contains (as the models page's search).")
    dataset = id_filter("Models with a version trained on a version of this dataset.")
    owner = serializers.CharField(max_length=150, required=False, help_text="The owner's username.")
    ordering = ordering_field(*selectors.MODEL_ORDERING, default="name")


class ModelVersionFilterInput(CreatedRangeInput):
    model = id_filter("Versions of this model.")
    status = serializers.ChoiceField(choices=VersionStatus.choices, required=False)
    dataset_version = id_filter("Versions trained on this dataset version.")
    dataset = id_filter("Versions trained on a version of this dataset.")
    pretrained_encoder = id_filter("Versions trained from this registered encoder.")
    ordering = ordering_field(*selectors.VERSION_ORDERING, default="-created_at")


class DeploymentFilterInput(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    kind = serializers.ChoiceField(choices=DeploymentKind.choices, required=False)
    model = id_filter("Deployments of this model's versions.")
    model_version = id_filter("Deployments of this model version.")
    active = bool_filter("Only deployments not ended (true: serving or suspended) or ended (false).")
    status = serializers.ChoiceField(choices=[(k, k) for k in selectors.DEPLOYMENT_STATUSES], required=False,
                                     help_text="serving; suspended (its request lost its approval: not serving "
                                               "until approved again); ended.")
    started_after = instant_filter("Started at or after this instant")
    started_before = instant_filter("Started before this instant")
    ordering = ordering_field(*selectors.DEPLOYMENT_ORDERING, default="-started_at")


class PretrainedEncoderFilterInput(CreatedRangeInput):
    q = search_filter("Name or description contains.")
    digest = serializers.RegexField(r"^[0-9a-f]{64}$", required=False, help_text="The folder's digest (hex).")
    ordering = ordering_field(*selectors.ENCODER_ORDERING, default="name")


class ModelListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = ModelOutput

    @extend_schema(parameters=[ModelFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.model_list(user=self.request.user, filters=list_filters(ModelFilterInput, self.request))


class ModelVersionListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = ModelVersionOutput

    @extend_schema(parameters=[ModelVersionFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.model_version_list(user=self.request.user,
                                            filters=list_filters(ModelVersionFilterInput, self.request))

    @extend_schema(request=TrainInput, responses={202: ModelVersionOutput})
    def post(self, request):
        data = TrainInput(data=request.data, user=request.user)
        data.is_valid(raise_exception=True)
        version = services.model_version_request_training(actor=request.user, **data.validated_data)
        return Response(ModelVersionOutput(version).data, status=status.HTTP_202_ACCEPTED)


class ModelVersionDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = ModelVersionOutput

    def get_queryset(self):
        return selectors.model_version_list(user=self.request.user)


class DeploymentListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DeploymentOutput

    @extend_schema(parameters=[DeploymentFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.deployment_list(user=self.request.user,
                                         filters=list_filters(DeploymentFilterInput, self.request))


class DeploymentAtApi(APIView):
    """What was deployed at time T: `?at=2026-11-29T12:00:00Z&environment=production[&model=ID]`; each with
    its `status` at T: serving, or suspended (its request had lost its approval: it was not serving)."""

    permission_classes = [role_permission()]

    @extend_schema(parameters=[DeploymentAtInput], responses={200: DeploymentsAtOutput})
    def get(self, request):
        data = DeploymentAtInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        served = selectors.deployments_at(at=params["at"], user=request.user, environment=params["environment"],
                                          model_id=params.get("model"))
        return Response({"at": params["at"].isoformat(), "environment": params["environment"],
                         "deployments": DeploymentOutput(served, many=True, context={"at": params["at"]}).data})


class DeploymentRollbackApi(APIView):
    """Serve again the version that served before the current one, only while the deployment request it was
    approved on is approved on evidence that still holds (judged now; 403 and logged otherwise)."""

    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]

    @extend_schema(request=DeploymentChangeInput, responses={201: DeploymentOutput})
    def post(self, request):
        data = DeploymentChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_rollback(actor=request.user, **data.validated_data)
        return Response(DeploymentOutput(deployment).data, status=status.HTTP_201_CREATED)


class DeploymentRetireApi(APIView):
    """Stop serving (or end a suspended deployment) with a reason; production needs a reviewer."""

    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]

    @extend_schema(request=DeploymentChangeInput, responses={200: DeploymentOutput})
    def post(self, request):
        data = DeploymentChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_retire(actor=request.user, **data.validated_data)
        return Response(DeploymentOutput(deployment).data)


class MitigateInput(ScopedInput):
    scoped_fields = {"dataset_version": dataset_version_list}

    dataset_version = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.none())
    constraint = serializers.ChoiceField(choices=mitigation.CONSTRAINTS)
    attribute = serializers.CharField(max_length=100)


class ModelVersionMitigateApi(APIView):
    """Request a child version deciding with group thresholds fitted on `dataset_version`."""

    permission_classes = [EngineerWrites]

    @extend_schema(request=MitigateInput, responses={202: ModelVersionOutput})
    def post(self, request, pk: int):
        version = generics.get_object_or_404(selectors.model_version_list(user=request.user), pk=pk)
        data = MitigateInput(data=request.data, user=request.user)
        data.is_valid(raise_exception=True)
        child = mitigation.model_version_mitigate(actor=request.user, model_version=version, **data.validated_data)
        return Response(ModelVersionOutput(child).data, status=status.HTTP_202_ACCEPTED)


class ModelImportInput(serializers.Serializer):
    project = serializers.IntegerField(required=False, allow_null=True, default=None,
                                       help_text="The project (id) of the model; default: your only project where "
                                                 "you are an ML engineer.")
    model_name = serializers.CharField(max_length=200)
    archive = serializers.FileField(help_text="A zip of a Hugging Face BERT-family …ForSequenceClassification "
                                              "folder: config.json, model.safetensors, tokenizer.json (pickle "
                                              "checkpoints are refused).")
    declared_training_data = serializers.CharField(max_length=5000, help_text="The data it was trained on: "
                                                   "provenance, scope, period (AI Act Annex IV 2(d)).")
    intended_purpose = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    label_names = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                        allow_null=True, default=None, max_length=50,
                                        help_text="Names of the outputs in order, replacing config.json's id2label "
                                                  "(e.g. when it says LABEL_0, LABEL_1).")


class ModelVersionImportApi(APIView):
    """Import a classifier fine-tuned elsewhere as a ready model version (lineage "external")."""

    permission_classes = [EngineerWrites]
    parser_classes = [MultiPartParser, FormParser]
    upload_policy = UploadPolicy(roles=(ML_ENGINEER,), max_bytes_setting="MODEL_IMPORT_MAX_BYTES", field="archive")

    @extend_schema(request={"multipart/form-data": ModelImportInput}, responses={201: ModelVersionOutput})
    def post(self, request):
        for field, message in upload_refusals(request).items():
            raise ValidationFailed(message, field=field)
        data = ModelImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        upload = fields.pop("archive")
        version = imports.model_version_import(actor=request.user, archive=upload, file_name=upload.name,
                                               size=upload.size, **fields)
        return Response(ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)


class PretrainedEncoderInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    archive = serializers.FileField(help_text="A zip of a Hugging Face BERT-family folder: config.json, "
                                              "model.safetensors, tokenizer.json (pickle checkpoints are refused).")


class PretrainedEncoderOutput(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    used_by = serializers.IntegerField(read_only=True, default=0, help_text="Model versions trained from it.")

    class Meta:
        model = PretrainedEncoder
        fields = ["id", "name", "description", "digest", "config", "source_file", "source_sha256", "uploaded_by",
                  "created_at", "used_by"]


class PretrainedEncoderListApi(generics.ListAPIView):
    """Registered external encoders; POST (multipart) registers one from a zipped model folder."""

    permission_classes = [EngineerWrites]
    serializer_class = PretrainedEncoderOutput
    parser_classes = [MultiPartParser, FormParser]
    upload_policy = UploadPolicy(roles=(ML_ENGINEER,), max_bytes_setting="PRETRAINED_UPLOAD_MAX_BYTES", field="archive")

    @extend_schema(parameters=[PretrainedEncoderFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.pretrained_encoder_list(filters=list_filters(PretrainedEncoderFilterInput, self.request))

    @extend_schema(request={"multipart/form-data": PretrainedEncoderInput}, responses={201: PretrainedEncoderOutput})
    def post(self, request):
        for field, message in upload_refusals(request).items():
            raise ValidationFailed(message, field=field)
        data = PretrainedEncoderInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        upload = fields.pop("archive")
        encoder = services.pretrained_encoder_register(actor=request.user, archive=upload, file_name=upload.name,
                                                       size=upload.size, **fields)
        return Response(PretrainedEncoderOutput(encoder).data, status=status.HTTP_201_CREATED)


class PretrainedEncoderDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = PretrainedEncoderOutput

    def get_queryset(self):
        return selectors.pretrained_encoder_list()


class ComputePartOutput(serializers.Serializer):
    records = serializers.IntegerField(help_text="Stored compute records summed.")
    wall_s = serializers.FloatField(allow_null=True)
    cpu_s = serializers.FloatField(allow_null=True)
    flops = serializers.IntegerField(allow_null=True)
    tokens = serializers.IntegerField(allow_null=True)
    energy_wh = serializers.FloatField(allow_null=True, help_text="An estimate; see energy_assumptions.")
    model_evaluations = serializers.IntegerField(allow_null=True)
    energy_assumptions = serializers.ListField(child=serializers.CharField())
    not_recorded = serializers.ListField(child=serializers.CharField(), required=False,
                                         help_text="Figures some of the summed records lack.")


class ComputeSummaryOutput(serializers.Serializer):
    training = ComputePartOutput()
    inference = ComputePartOutput()
    explanations = ComputePartOutput()
    total = ComputePartOutput()


class ModelComputeApi(APIView):
    """Compute used by a model: its versions' training, its audits' inference and explanations, summed."""

    permission_classes = [role_permission()]

    @extend_schema(responses={200: ComputeSummaryOutput})
    def get(self, request, pk: int):
        model = generics.get_object_or_404(selectors.model_list(user=request.user), pk=pk)
        return Response(ComputeSummaryOutput(selectors.compute_summary(model=model)).data)


class ModelVersionComputeApi(APIView):
    """Compute used by one model version: its training and its audits' inference and explanations."""

    permission_classes = [role_permission()]

    @extend_schema(responses={200: ComputeSummaryOutput})
    def get(self, request, pk: int):
        version = generics.get_object_or_404(selectors.model_version_list(user=request.user), pk=pk)
        return Response(ComputeSummaryOutput(selectors.compute_summary(model_version=version)).data)
