from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.permissions import role_permission
from governance.accounts.roles import ML_ENGINEER
from governance.audits import selectors, services
from governance.audits.models import Audit, AuditStatus, Prediction
from governance.datasets.models import DatasetVersion
from governance.list_filters import ListFilters
from governance.registry.models import ModelVersion

EngineerWrites = role_permission(ML_ENGINEER)


class AuditInput(serializers.Serializer):
    model_version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all())
    dataset_version = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.all())
    explain_rows = serializers.IntegerField(min_value=0, max_value=500, required=False, allow_null=True,
                                            default=None)
    word_pairs = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(max_length=60), min_length=2, max_length=2),
        required=False, allow_null=True, default=None, max_length=200,
        help_text="Counterfactual word pairs [[term of group 1, term of group 2], ...]; default: the core's "
                  "gendered words and names.")
    counterfactual_groups = serializers.ListField(child=serializers.CharField(max_length=60), min_length=2,
                                                  max_length=2, required=False, allow_null=True, default=None)


class AuditOutput(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model_version.model.name", read_only=True)
    model_version_number = serializers.IntegerField(source="model_version.version", read_only=True)
    dataset_name = serializers.CharField(source="dataset_version.dataset.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)

    class Meta:
        model = Audit
        fields = ["id", "model_version", "model_name", "model_version_number", "dataset_version", "dataset_name",
                  "status", "requested_by", "config", "created_at", "started_at", "finished_at", "error",
                  "artifact_digest", "summary", "result_hash"]


class AuditDetailOutput(AuditOutput):
    results = serializers.SerializerMethodField()

    class Meta(AuditOutput.Meta):
        fields = AuditOutput.Meta.fields + ["results"]

    def get_results(self, audit) -> dict:
        return selectors.audit_results(audit=audit)


class AuditCompareInput(serializers.Serializer):
    a = serializers.PrimaryKeyRelatedField(queryset=Audit.objects.all())
    b = serializers.PrimaryKeyRelatedField(queryset=Audit.objects.all())


class AuditCompareOutput(serializers.Serializer):
    a = AuditOutput()
    b = AuditOutput()
    decision = serializers.JSONField()
    performance = serializers.JSONField()
    disparities = serializers.JSONField()
    counterfactual = serializers.JSONField()
    verdict = serializers.JSONField()


class PredictionOutput(serializers.ModelSerializer):
    class Meta:
        model = Prediction
        fields = ["id", "record", "subject_id", "predicted_label", "probabilities"]


class AuditListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = AuditOutput

    @extend_schema(parameters=[
        OpenApiParameter("q", str, description="Audit number, model or dataset name, or requester (contains)"),
        OpenApiParameter("status", str, enum=AuditStatus.values),
        OpenApiParameter("model", int, description="Model id"), OpenApiParameter("dataset", int, description="Dataset id"),
        OpenApiParameter("model_version", int, description="Model version id")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        # ?q=, ?status=, ?model=, ?dataset= as on the list page; ?model_version= for one version
        filters = ListFilters.from_query(self.request.query_params, statuses=AuditStatus.values)
        qs = selectors.audit_search(filters=filters)
        mv = self.request.query_params.get("model_version")
        return qs.filter(model_version_id=mv) if mv and mv.isdigit() else qs

    @extend_schema(request=AuditInput, responses={202: AuditOutput})
    def post(self, request):
        data = AuditInput(data=request.data)
        data.is_valid(raise_exception=True)
        audit = services.audit_request(actor=request.user, **data.validated_data)
        return Response(AuditOutput(audit).data, status=status.HTTP_202_ACCEPTED)


class AuditDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = AuditDetailOutput

    def get_queryset(self):
        return selectors.audit_list().prefetch_related("results")


class AuditPredictionListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = PredictionOutput

    def get_queryset(self):
        return Prediction.objects.filter(audit_id=self.kwargs["pk"]).order_by("id")


class AuditCompareApi(APIView):
    """Two complete audits side by side: `?a=<audit id>&b=<audit id>`."""

    permission_classes = [EngineerWrites]

    @extend_schema(parameters=[AuditCompareInput], responses={200: AuditCompareOutput})
    def get(self, request):
        data = AuditCompareInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        comparison = selectors.audit_comparison(a=selectors.audit_get(audit_id=params["a"].pk),
                                                b=selectors.audit_get(audit_id=params["b"].pk))
        return Response(AuditCompareOutput(comparison).data)
