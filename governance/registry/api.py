from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from governance.accounts.permissions import role_permission
from governance.accounts.roles import ML_ENGINEER
from governance.datasets.models import DatasetVersion
from governance.registry import selectors, services
from governance.registry.choices import EncoderChoice
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
    class Meta:
        model = Deployment
        fields = ["id", "model_version", "environment", "request", "started_at", "ended_at", "ended_reason"]


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
        qs = Deployment.objects.all()
        env = self.request.query_params.get("environment")
        return qs.filter(environment=env) if env else qs
