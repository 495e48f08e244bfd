from __future__ import annotations

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from django.http import Http404

from governance.accounts.scoped_inputs import ScopedInput
from governance.audits.selectors import audit_list
from governance.permissions import role_permission
from governance.registry.selectors import model_version_list
from governance.roles import ADMIN, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.api_lists import CreatedRangeInput, bool_filter, id_filter, list_filters, ordering_field, search_filter
from governance.approvals import gates, selectors, services
from governance.approvals.models import (Approval, DeploymentPolicy, DeploymentRequest, GateWaiver, RequestComment,
                                         RequestStatus, Webhook, WebhookEvent)
from governance.audits.models import Audit
from governance.errors import NotFound
from governance.registry.choices import Environment
from governance.registry.models import ModelVersion


class RequestInput(ScopedInput):
    scoped_fields = {"model_version": model_version_list, "audit": audit_list}

    model_version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.none())
    environment = serializers.ChoiceField(choices=Environment.choices)
    audit = serializers.PrimaryKeyRelatedField(queryset=Audit.objects.none())
    justification = serializers.CharField()


class StepUpInput(serializers.Serializer):
    """Signs the decision, as the page asks: `password` re-entered, or `otp_token`, the current code of the
    caller's confirmed TOTP device (required instead of the password where they have one). 403 otherwise."""

    password = serializers.CharField(required=False, allow_blank=True, default="", write_only=True,
                                     style={"input_type": "password"})
    otp_token = serializers.CharField(required=False, allow_blank=True, default="", max_length=10)


class DecisionInput(StepUpInput):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RejectInput(serializers.Serializer):
    reason = serializers.CharField()


class CommentInput(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class WaiverInput(StepUpInput):
    gate = serializers.ChoiceField(choices=list(gates.GATES.items()))
    reason = serializers.CharField()
    expires_at = serializers.DateTimeField()


class PolicyInput(serializers.Serializer):
    required_approvals = serializers.IntegerField(min_value=1, max_value=10)
    approvers = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), many=True,
                                             required=False, default=list)
    min_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True, default=None)
    fairness_rules = serializers.JSONField(required=False, default=list)
    max_audit_age_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True,
                                                  default=None)
    require_explanations = serializers.BooleanField(default=True)
    require_dpia_for_personal_data = serializers.BooleanField(default=True)
    require_lawful_basis = serializers.BooleanField(default=True)
    max_canary_exposure = serializers.FloatField(min_value=0, max_value=64, required=False, allow_null=True,
                                                 default=10.0, help_text="Generative versions: the most exposure "
                                                 "(bits, upper end of the interval) any inserted canary may have.")
    forbid_pii_extraction = serializers.BooleanField(default=True, help_text="Generative versions: fail when the "
                                                     "memorisation audit reproduced any training record's personal data.")
    max_invariance_flip_rate = serializers.FloatField(
        min_value=0, max_value=1, required=False, allow_null=True, default=None,
        help_text="Robustness gate: the upper bound of every invariance suite's flip rate must not exceed it.")
    max_directional_failure_rate = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True,
                                                          default=None)
    max_attack_success_rate = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True,
                                                     default=None)
    require_totp = serializers.BooleanField(default=False, help_text="Approvals and waivers here are signed with a "
                                            "TOTP code (otp_token) only; users without a confirmed device get a 403.")


class WebhookInput(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1)
    secret = serializers.RegexField(r"^(|[^\x00]{16,128})$", required=False, allow_blank=True, default="",
                                    trim_whitespace=False,
                                    error_messages={"invalid": "A secret of at least 16 characters (or none: one "
                                                               "is generated)."},
                                    help_text="16 to 128 characters; empty or absent: one is generated.")


class ApprovalOutput(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = Approval
        fields = ["id", "reviewer", "decision", "reason", "artifact_digest", "audit_result_hash", "voided",
                  "voided_reason", "voided_at", "created_at"]


class CommentOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = RequestComment
        fields = ["id", "author", "body", "created_at"]


class WaiverOutput(serializers.ModelSerializer):
    granted_by = serializers.CharField(source="granted_by.username", read_only=True)

    class Meta:
        model = GateWaiver
        fields = ["id", "request", "gate", "reason", "expires_at", "granted_by", "created_at", "audit_result_hash",
                  "measured", "voided_at", "voided_reason"]


class RequestOutput(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    model_name = serializers.CharField(source="model_version.model.name", read_only=True)
    approvals = ApprovalOutput(many=True, read_only=True)
    comments = CommentOutput(many=True, read_only=True)
    waivers = WaiverOutput(many=True, read_only=True)

    class Meta:
        model = DeploymentRequest
        fields = ["id", "model_version", "model_name", "environment", "audit", "justification", "requested_by",
                  "status", "artifact_digest", "audit_result_hash", "required_approvals", "created_at",
                  "decided_at", "gate_results", "gates_evaluated_at", "voided_count", "approvals", "comments",
                  "waivers"]


class PolicyOutput(serializers.ModelSerializer):
    approvers = serializers.SerializerMethodField()
    stored = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)  # null: the default, never saved

    class Meta:
        model = DeploymentPolicy
        fields = ["environment", "required_approvals", "approvers", "min_accuracy", "fairness_rules",
                  "max_audit_age_days", "require_explanations", "require_dpia_for_personal_data",
                  "require_lawful_basis", "require_totp", "max_canary_exposure", "forbid_pii_extraction",
                  "max_invariance_flip_rate", "max_directional_failure_rate", "max_attack_success_rate",
                  "updated_at", "stored"]

    def get_approvers(self, policy) -> list[str]:
        return sorted(u.username for u in policy.approvers.all()) if policy.pk else []

    def get_stored(self, policy) -> bool:
        return policy.pk is not None


class WebhookOutput(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "active", "created_at"]


class WebhookCreatedOutput(WebhookOutput):
    class Meta(WebhookOutput.Meta):
        fields = [*WebhookOutput.Meta.fields, "secret"]  # shown once, at creation


class RequestFilterInput(CreatedRangeInput):
    q = search_filter("The request number, or the model's name or the requester contains, or the environment "
                      "(as the approvals page's search).")
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    model = id_filter("Requests for this model's versions.")
    model_version = id_filter("Requests for this model version.")
    audit = id_filter("Requests citing this audit.")
    requested_by = serializers.CharField(max_length=150, required=False, help_text="The requester's username.")
    ordering = ordering_field(*selectors.REQUEST_ORDERING, default="-created_at")


class PolicyFilterInput(serializers.Serializer):
    environment = serializers.ChoiceField(choices=Environment.choices, required=False)
    stored = bool_filter("Only policies an officer saved (true) or the defaults in force (false).")
    ordering = ordering_field(*selectors.POLICY_ORDERING, default="environment")


class WebhookFilterInput(CreatedRangeInput):
    q = search_filter("The URL contains.")
    active = bool_filter("Only active (true) or paused (false) webhooks.")
    event = serializers.ChoiceField(choices=WebhookEvent.choices, required=False,
                                    help_text="Only webhooks subscribed to this event.")
    ordering = ordering_field(*selectors.WEBHOOK_ORDERING, default="url")


def _visible_or_404(request, pk: int) -> None:
    """Another project's request is missing (404) before its input is judged (the services check it too)."""
    generics.get_object_or_404(selectors.request_list(user=request.user), pk=pk)


def _request_queryset(user, filters=None):
    return selectors.request_list(user=user, filters=filters).prefetch_related("approvals__reviewer", "comments__author",
                                                                    "waivers__granted_by")


class RequestListApi(generics.ListAPIView):
    permission_classes = [role_permission(ML_ENGINEER)]
    serializer_class = RequestOutput

    @extend_schema(parameters=[RequestFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return _request_queryset(self.request.user, list_filters(RequestFilterInput, self.request))

    @extend_schema(request=RequestInput, responses={201: RequestOutput})
    def post(self, request):
        data = RequestInput(data=request.data, user=request.user)
        data.is_valid(raise_exception=True)
        created = services.deployment_request_create(actor=request.user, **data.validated_data)
        return Response(RequestOutput(selectors.request_get(request_id=created.pk, user=request.user)).data,
                        status=status.HTTP_201_CREATED)


class RequestDetailApi(generics.RetrieveAPIView):
    permission_classes = [role_permission(ML_ENGINEER)]
    serializer_class = RequestOutput

    def get_queryset(self):
        return _request_queryset(self.request.user)


class RequestApproveApi(APIView):
    """A reviewer's approval, signed as on the page: `password`, or `otp_token` where the reviewer has a TOTP
    device (403 when missing or wrong, logged). 409 when the evidence changed (the approvals are voided) or a
    gate fails without a waiver; 403 when the audit's stored results no longer hash to the bound hash
    (tampering, logged)."""

    permission_classes = [role_permission(REVIEWER)]

    @extend_schema(request=DecisionInput, responses={200: RequestOutput})
    def post(self, request, pk: int):
        _visible_or_404(request, pk)
        data = DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.deployment_request_approve(actor=request.user, request_id=pk, **data.validated_data)
        return Response(RequestOutput(selectors.request_get(request_id=pk, user=request.user)).data)


class RequestRejectApi(APIView):
    permission_classes = [role_permission(REVIEWER)]

    @extend_schema(request=RejectInput, responses={200: RequestOutput})
    def post(self, request, pk: int):
        _visible_or_404(request, pk)
        data = RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.deployment_request_reject(actor=request.user, request_id=pk, **data.validated_data)
        return Response(RequestOutput(selectors.request_get(request_id=pk, user=request.user)).data)


class RequestRecheckApi(APIView):
    """Re-judge the evidence and gates now; voids the approvals when the evidence changed."""

    permission_classes = [role_permission(ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER)]

    @extend_schema(request=None, responses={200: RequestOutput})
    def post(self, request, pk: int):
        services.deployment_request_recheck_asked(actor=request.user, request_id=pk)
        return Response(RequestOutput(selectors.request_get(request_id=pk, user=request.user)).data)


class CommentFilterInput(CreatedRangeInput):
    author = serializers.CharField(max_length=150, required=False, help_text="The author's username.")
    ordering = ordering_field(*selectors.COMMENT_ORDERING, default="created_at")


class RequestCommentApi(generics.ListAPIView):
    permission_classes = [role_permission(ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER)]
    serializer_class = CommentOutput

    @extend_schema(parameters=[CommentFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        try:
            return selectors.request_comment_list(request_id=self.kwargs["pk"], user=self.request.user,
                                                  filters=list_filters(CommentFilterInput, self.request))
        except DeploymentRequest.DoesNotExist:
            raise Http404("No such deployment request.") from None

    @extend_schema(request=CommentInput, responses={201: CommentOutput})
    def post(self, request, pk: int):
        _visible_or_404(request, pk)
        data = CommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.deployment_request_comment(actor=request.user, request_id=pk, **data.validated_data)
        return Response(CommentOutput(comment).data, status=status.HTTP_201_CREATED)


class RequestWaiverApi(APIView):
    """A compliance officer's waiver of a failing gate, signed like an approval; never by the requester (403,
    logged). Bound to the audit's result hash and the value the gate measures: another voids it."""

    permission_classes = [role_permission(COMPLIANCE_OFFICER)]

    @extend_schema(request=WaiverInput, responses={201: WaiverOutput})
    def post(self, request, pk: int):
        _visible_or_404(request, pk)
        data = WaiverInput(data=request.data)
        data.is_valid(raise_exception=True)
        waiver = services.gate_waiver_create(actor=request.user, request_id=pk, **data.validated_data)
        return Response(WaiverOutput(waiver).data, status=status.HTTP_201_CREATED)


class PolicyListApi(generics.ListAPIView):
    """Each environment's policy in force: the stored one, or the default (`stored`: false)."""

    permission_classes = [role_permission()]
    serializer_class = PolicyOutput

    @extend_schema(parameters=[PolicyFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.policy_list(filters=list_filters(PolicyFilterInput, self.request))


class PolicyDetailApi(APIView):
    permission_classes = [role_permission(COMPLIANCE_OFFICER)]

    def _environment(self, environment: str) -> str:
        if environment not in Environment.values:
            raise NotFound(f"There is no environment '{environment}'.")
        return environment

    @extend_schema(responses={200: PolicyOutput})
    def get(self, request, environment: str):
        return Response(PolicyOutput(selectors.policy_for(self._environment(environment))).data)

    @extend_schema(request=PolicyInput, responses={200: PolicyOutput})
    def put(self, request, environment: str):
        data = PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.deployment_policy_update(actor=request.user, environment=self._environment(environment),
                                                   **data.validated_data)
        return Response(PolicyOutput(policy).data)


class WebhookListApi(generics.ListAPIView):
    permission_classes = [role_permission(ADMIN, read_roles=(ADMIN,))]
    serializer_class = WebhookOutput

    @extend_schema(parameters=[WebhookFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.webhook_list(filters=list_filters(WebhookFilterInput, self.request))

    @extend_schema(request=WebhookInput, responses={201: WebhookCreatedOutput})
    def post(self, request):
        data = WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        hook = services.webhook_create(actor=request.user, **data.validated_data)
        return Response(WebhookCreatedOutput(hook).data, status=status.HTTP_201_CREATED)
