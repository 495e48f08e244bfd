"""The serving API: the predict endpoint (service tokens), service tokens, outcomes, decisions, the serving
policies, monitoring reports and alerts. Each view validates, calls one service or selector, renders."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api_lists import bool_filter, id_filter, instant_filter, list_filters, ordering_field
from governance.errors import NotFound, ValidationFailed
from governance.permissions import role_permission
from governance.registry.choices import Environment
from governance.registry.selectors import model_list
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.serving import monitoring, selectors, services, tokens
from governance.serving.authentication import ServiceTokenAuthentication
from governance.serving.models import (Decision, MonitoringAlert, MonitoringReport, MonitoringWindow, ServiceToken,
                                       ServingPolicy)


class HasServiceToken(BasePermission):
    message = "A service token (Authorization: Bearer gst_…) is required."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ServiceToken)


class InstanceInput(serializers.Serializer):
    text = serializers.CharField(max_length=20_000, trim_whitespace=False,
                                 help_text="The text to decide on (at most 20,000 characters).")
    subject_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                       help_text="The data subject the decision is about, for access and erasure "
                                                 "requests (optional).")
    attributes = serializers.DictField(child=serializers.CharField(max_length=200, allow_blank=True),
                                       required=False, default=dict,
                                       help_text="Sensitive attributes (e.g. gender), for fairness monitoring and "
                                                 "for models that decide with group thresholds.")


class PredictInput(serializers.Serializer):
    instances = serializers.ListField(child=InstanceInput(), min_length=1, max_length=256, help_text="1 to 256 texts.")


class DecisionAnswer(serializers.Serializer):
    decision_id = serializers.UUIDField()
    label = serializers.CharField()
    probabilities = serializers.DictField(child=serializers.FloatField())


class PredictOutput(serializers.Serializer):
    model = serializers.IntegerField()
    model_name = serializers.CharField()
    environment = serializers.CharField()
    model_version = serializers.IntegerField()
    version = serializers.IntegerField()
    artifact_digest = serializers.CharField()
    deployment = serializers.IntegerField()
    decided_at = serializers.DateTimeField()
    rule = serializers.CharField()
    decisions = DecisionAnswer(many=True)


class ServePredictApi(APIView):
    """Decide on 1-256 texts with the version approved and deployed for the model in the environment now.
    A service token of that model and environment (`Authorization: Bearer gst_…`) is required; 409 with the
    reason when no version may answer (never approved, suspended, retired, artifact check failed); 503 when
    the decision log cannot be written (nothing is decided then). Each decision is logged before the answer."""

    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [HasServiceToken]
    throttle_classes: list = []

    @extend_schema(request=PredictInput, responses={200: PredictOutput}, auth=[{"serviceToken": []}])
    def post(self, request, model: int, environment: str):
        if environment not in Environment.values:
            raise NotFound(f"'{environment}' is not an environment.")
        data = PredictInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = services.decisions_make(token=request.auth, model_id=model, environment=environment,
                                         instances=data.validated_data["instances"])
        return Response(answer)


# ------------------------------------------------------------------------------------------ service tokens
class ServiceTokenInput(serializers.Serializer):
    model = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    environment = serializers.ChoiceField(choices=Environment.choices)
    name = serializers.CharField(max_length=100)


class ServiceTokenOutput(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ServiceToken
        fields = ["id", "model", "model_name", "environment", "name", "prefix", "created_by", "created_at",
                  "revoked", "revoked_at"]

    def get_revoked(self, token) -> bool:
        return token.revoked_at is not None


class ServiceTokenCreatedOutput(ServiceTokenOutput):
    token = serializers.SerializerMethodField(help_text="The token: shown this once, never stored.")

    class Meta(ServiceTokenOutput.Meta):
        fields = ServiceTokenOutput.Meta.fields + ["token"]

    def get_token(self, row) -> str:
        return self.context["token"]


class ServiceTokenFilterInput(serializers.Serializer):
    model = id_filter("Tokens of this model.")
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    revoked = bool_filter("Only revoked (true) or usable (false) tokens.")
    ordering = ordering_field(*selectors.TOKEN_ORDERING, default="-created_at")


class ServiceTokenListApi(generics.ListAPIView):
    """Service tokens of the models you see; POST creates one (ML engineer or reviewer of the model's
    project; production: a reviewer) and answers the token once."""

    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]
    serializer_class = ServiceTokenOutput

    @extend_schema(parameters=[ServiceTokenFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.service_token_list(user=self.request.user,
                                            filters=list_filters(ServiceTokenFilterInput, self.request))

    @extend_schema(request=ServiceTokenInput, responses={201: ServiceTokenCreatedOutput})
    def post(self, request):
        data = ServiceTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        model = model_list(user=request.user).filter(pk=fields["model"]).first()
        if model is None:  # unknown, or of a project the user does not see: the same answer
            raise ValidationFailed("No such model.", field="model")
        row, token = tokens.service_token_create(actor=request.user, model=model, environment=fields["environment"],
                                                 name=fields["name"])
        return Response(ServiceTokenCreatedOutput(row, context={"token": token}).data, status=status.HTTP_201_CREATED)


class ServiceTokenRevokeApi(APIView):
    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]

    @extend_schema(request=None, responses={200: ServiceTokenOutput})
    def post(self, request, pk: int):
        token = generics.get_object_or_404(selectors.service_token_list(user=request.user), pk=pk)
        return Response(ServiceTokenOutput(tokens.service_token_revoke(actor=request.user, token=token)).data)


# ------------------------------------------------------------------------------------ decisions, outcomes
class OutcomeInput(serializers.Serializer):
    decision_id = serializers.UUIDField()
    label = serializers.CharField(max_length=200)


class OutcomesInput(serializers.Serializer):
    outcomes = serializers.ListField(child=OutcomeInput(), min_length=1, max_length=1000)


class OutcomesOutput(serializers.Serializer):
    recorded = serializers.IntegerField()


class UserOrServiceToken(BasePermission):
    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ServiceToken):
            return True
        return role_permission(ML_ENGINEER, REVIEWER)().has_permission(request, view)


class DecisionOutcomesApi(APIView):
    """Attach ground-truth labels to logged decisions, by decision id (all or none): a service token of the
    decisions' model and environment, or an ML engineer or reviewer of its project."""

    authentication_classes = [TokenAuthentication, ServiceTokenAuthentication, SessionAuthentication]
    permission_classes = [UserOrServiceToken]

    @extend_schema(request=OutcomesInput, responses={201: OutcomesOutput})
    def post(self, request):
        data = OutcomesInput(data=request.data)
        data.is_valid(raise_exception=True)
        actor = request.auth if isinstance(request.auth, ServiceToken) else request.user
        stored = services.outcomes_record(actor=actor, outcomes=data.validated_data["outcomes"])
        return Response({"recorded": len(stored)}, status=status.HTTP_201_CREATED)


class DecisionOutput(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = ["id", "decided_at", "model_id", "model_version_id", "deployment_id", "environment",
                  "input_sha256", "predicted_label", "probabilities"]


class DecisionFilterInput(serializers.Serializer):
    model = id_filter("Decisions of this model.")
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    deployment = id_filter("Decisions of this deployment.")
    model_version = id_filter("Decisions of this model version.")
    decided_after = instant_filter("Decided at or after this instant")
    decided_before = instant_filter("Decided before this instant")
    ordering = ordering_field(*selectors.DECISION_ORDERING, default="-decided_at")


class DecisionListApi(generics.ListAPIView):
    """The decision log of the models you see (no texts, no subject ids: those are for the subject's access
    request)."""

    permission_classes = [role_permission()]
    serializer_class = DecisionOutput

    @extend_schema(parameters=[DecisionFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.decision_list(user=self.request.user, filters=list_filters(DecisionFilterInput, self.request))


# ------------------------------------------------------------------------------------------------ policies
class ServingPolicyInput(serializers.Serializer):
    store_text = serializers.BooleanField(required=False)
    retention_days = serializers.IntegerField(min_value=services.MIN_RETENTION_DAYS, max_value=36500, required=False,
                                              help_text="At least six months (AI Act Art. 19(1), 26(6)).")
    min_decisions = serializers.IntegerField(min_value=1, max_value=10**9, required=False)
    max_psi = serializers.FloatField(min_value=0, max_value=100, required=False, allow_null=True)
    max_prediction_shift = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    fairness_rules = serializers.ListField(child=serializers.DictField(), required=False, max_length=50)
    n_boot = serializers.IntegerField(min_value=0, max_value=5000, required=False)
    auto_suspend = serializers.BooleanField(required=False)
    alert_emails = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ServingPolicyOutput(serializers.ModelSerializer):
    class Meta:
        model = ServingPolicy
        fields = ["environment", *services.POLICY_FIELDS, "updated_at"]


class ServingPolicyApi(APIView):
    """The serving and monitoring policy of an environment; compliance officers change it (PUT)."""

    permission_classes = [role_permission(COMPLIANCE_OFFICER)]

    @extend_schema(responses={200: ServingPolicyOutput})
    def get(self, request, environment: str):
        return Response(ServingPolicyOutput(services.serving_policy_get(environment)).data)

    @extend_schema(request=ServingPolicyInput, responses={200: ServingPolicyOutput})
    def put(self, request, environment: str):
        services.serving_policy_get(environment)  # 404 for an unknown environment
        data = ServingPolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.serving_policy_update(actor=request.user, environment=environment, **data.validated_data)
        return Response(ServingPolicyOutput(policy).data)


# ---------------------------------------------------------------------------------------------- monitoring
class MonitoringReportOutput(serializers.ModelSerializer):
    environment = serializers.CharField(source="deployment.environment", read_only=True)
    model = serializers.IntegerField(source="deployment.model_version.model_id", read_only=True)

    class Meta:
        model = MonitoringReport
        fields = ["id", "deployment", "model", "environment", "window", "window_start", "window_end", "status",
                  "decisions", "with_outcomes", "results", "error", "created_at", "computed_at"]


class MonitoringFilterInput(serializers.Serializer):
    deployment = id_filter("Reports of this deployment.")
    model = id_filter("Reports of this model's deployments.")
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    window = serializers.ChoiceField(choices=MonitoringWindow.choices, required=False)
    status = serializers.ChoiceField(choices=MonitoringReport._meta.get_field("status").choices, required=False)
    ordering = ordering_field(*selectors.REPORT_ORDERING, default="-window_start")


class MonitoringRequestInput(serializers.Serializer):
    deployment = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    window = serializers.ChoiceField(choices=MonitoringWindow.choices)
    window_end = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                           help_text="The end of the window (default: now).")


class MonitoringReportListApi(generics.ListAPIView):
    """Monitoring reports (prediction mix, drift, fairness, the policy's verdict); POST queues one now for a
    deployment and window ending now (ML engineer or reviewer)."""

    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]
    serializer_class = MonitoringReportOutput

    @extend_schema(parameters=[MonitoringFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.monitoring_report_list(user=self.request.user,
                                                filters=list_filters(MonitoringFilterInput, self.request))

    @extend_schema(request=MonitoringRequestInput, responses={202: MonitoringReportOutput})
    def post(self, request):
        data = MonitoringRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        report = monitoring.monitoring_request(actor=request.user, **data.validated_data)
        return Response(MonitoringReportOutput(report).data, status=status.HTTP_202_ACCEPTED)


class MonitoringAlertOutput(serializers.ModelSerializer):
    environment = serializers.CharField(source="deployment.environment", read_only=True)
    model = serializers.IntegerField(source="deployment.model_version.model_id", read_only=True)

    class Meta:
        model = MonitoringAlert
        fields = ["id", "report", "deployment", "model", "environment", "rule", "message", "measured", "threshold",
                  "suspended", "created_at", "acknowledged_at"]


class MonitoringAlertFilterInput(serializers.Serializer):
    deployment = id_filter("Alerts of this deployment.")
    model = id_filter("Alerts of this model's deployments.")
    acknowledged = bool_filter("Only acknowledged (true) or open (false) alerts.")
    ordering = ordering_field(*selectors.ALERT_ORDERING, default="-created_at")


class MonitoringAlertListApi(generics.ListAPIView):
    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]
    serializer_class = MonitoringAlertOutput

    @extend_schema(parameters=[MonitoringAlertFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.monitoring_alert_list(user=self.request.user,
                                               filters=list_filters(MonitoringAlertFilterInput, self.request))


class MonitoringAlertAcknowledgeApi(APIView):
    permission_classes = [role_permission(ML_ENGINEER, REVIEWER)]

    @extend_schema(request=None, responses={200: MonitoringAlertOutput})
    def post(self, request, pk: int):
        alert = generics.get_object_or_404(selectors.monitoring_alert_list(user=request.user), pk=pk)
        return Response(MonitoringAlertOutput(monitoring.monitoring_alert_acknowledge(actor=request.user,
                                                                                      alert=alert)).data)
