from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.permissions import role_permission
from governance.accounts.roles import ML_ENGINEER, REVIEWER
from governance.datasets.models import DatasetVersion
from governance.registry import mitigation, selectors, services
from governance.registry.choices import EncoderChoice, Environment
from governance.registry.models import Deployment, Model, ModelVersion

EngineerWrites = role_permission(ML_ENGINEER)


class TrainInput(serializers.Serializer):
    model_name = serializers.CharField(max_length=200)
    dataset_version = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.all())
    encoder = serializers.ChoiceField(choices=EncoderChoice.choices, default=EncoderChoice.PRETRAINED)
    freeze_encoder = serializers.BooleanField(default=True)
    epochs = serializers.IntegerField(min_value=1, max_value=50, default=8)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    dp = serializers.BooleanField(default=False)
    dp_epsilon = serializers.FloatField(min_value=0.1, max_value=100, required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    intended_purpose = serializers.CharField(required=False, allow_blank=True, default="")


class ModelOutput(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True)

    class Meta:
        model = Model
        fields = ["id", "name", "description", "intended_purpose", "owner", "created_at", "version_count",
                  "latest_version"]


class ModelVersionOutput(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "model", "model_name", "version", "status", "dataset_version", "parent", "lineage_note",
                  "training_config", "label_names", "metrics", "compute", "dp", "history", "artifact_digest",
                  "error", "created_by", "created_at", "trained_at"]


class DeploymentOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    artifact_digest = serializers.CharField(source="model_version.artifact_digest", read_only=True)

    class Meta:
        model = Deployment
        fields = ["id", "model", "version", "model_version", "artifact_digest", "environment", "kind", "request",
                  "started_at", "started_by", "ended_at", "ended_reason"]


class DeploymentsAtOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    environment = serializers.ChoiceField(choices=Environment.choices)
    deployments = DeploymentOutput(many=True)


class DeploymentAtInput(serializers.Serializer):
    at = serializers.DateTimeField()
    environment = serializers.ChoiceField(choices=Environment.choices, default=Environment.PRODUCTION)
    model = serializers.IntegerField(min_value=1, required=False)


class DeploymentChangeInput(serializers.Serializer):
    model = serializers.PrimaryKeyRelatedField(queryset=Model.objects.all())
    environment = serializers.ChoiceField(choices=Environment.choices)
    reason = serializers.CharField(max_length=180)


class ModelListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = ModelOutput

    def get_queryset(self):
        return selectors.model_list()


class ModelVersionListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = ModelVersionOutput

    def get_queryset(self):
        qs = selectors.model_version_list()
        model = self.request.query_params.get("model")
        return qs.filter(model_id=model) if model and model.isdigit() else qs

    @extend_schema(request=TrainInput, responses={202: ModelVersionOutput})
    def post(self, request):
        data = TrainInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.model_version_request_training(actor=request.user, **data.validated_data)
        return Response(ModelVersionOutput(version).data, status=status.HTTP_202_ACCEPTED)


class ModelVersionDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = ModelVersionOutput

    def get_queryset(self):
        return selectors.model_version_list()


class DeploymentListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DeploymentOutput

    def get_queryset(self):
        qs = Deployment.objects.select_related("model_version__model")
        env = self.request.query_params.get("environment")
        return qs.filter(environment=env) if env else qs


class DeploymentAtApi(APIView):
    """What was serving at time T: `?at=2026-11-29T12:00:00Z&environment=production[&model=ID]`."""

    permission_classes = [role_permission()]

    @extend_schema(parameters=[DeploymentAtInput], responses={200: DeploymentsAtOutput})
    def get(self, request):
        data = DeploymentAtInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        served = selectors.deployments_at(at=params["at"], environment=params["environment"],
                                          model_id=params.get("model"))
        return Response({"at": params["at"].isoformat(), "environment": params["environment"],
                         "deployments": DeploymentOutput(served, many=True).data})


class DeploymentRollbackApi(APIView):
    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]

    @extend_schema(request=DeploymentChangeInput, responses={201: DeploymentOutput})
    def post(self, request):
        data = DeploymentChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_rollback(actor=request.user, **data.validated_data)
        return Response(DeploymentOutput(deployment).data, status=status.HTTP_201_CREATED)


class DeploymentRetireApi(APIView):
    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]

    @extend_schema(request=DeploymentChangeInput, responses={200: DeploymentOutput})
    def post(self, request):
        data = DeploymentChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_retire(actor=request.user, **data.validated_data)
        return Response(DeploymentOutput(deployment).data)


class MitigateInput(serializers.Serializer):
    dataset_version = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.all())
    constraint = serializers.ChoiceField(choices=mitigation.CONSTRAINTS)
    attribute = serializers.CharField(max_length=100)


class ModelVersionMitigateApi(APIView):
    """Request a child version deciding with group thresholds fitted on `dataset_version`."""

    permission_classes = [EngineerWrites]

    @extend_schema(request=MitigateInput, responses={202: ModelVersionOutput})
    def post(self, request, pk: int):
        version = generics.get_object_or_404(selectors.model_version_list(), pk=pk)
        data = MitigateInput(data=request.data)
        data.is_valid(raise_exception=True)
        child = mitigation.model_version_mitigate(actor=request.user, model_version=version, **data.validated_data)
        return Response(ModelVersionOutput(child).data, status=status.HTTP_202_ACCEPTED)
