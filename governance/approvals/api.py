from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.permissions import role_permission
from governance.accounts.roles import ML_ENGINEER, REVIEWER
from governance.approvals import selectors, services
from governance.approvals.models import Approval, DeploymentRequest
from governance.audits.models import Audit
from governance.registry.choices import Environment
from governance.registry.models import ModelVersion


class RequestInput(serializers.Serializer):
    model_version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all())
    environment = serializers.ChoiceField(choices=Environment.choices)
    audit = serializers.PrimaryKeyRelatedField(queryset=Audit.objects.all())
    justification = serializers.CharField()


class DecisionInput(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RejectInput(serializers.Serializer):
    reason = serializers.CharField()


class ApprovalOutput(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = Approval
        fields = ["id", "reviewer", "decision", "reason", "artifact_digest", "audit_result_hash", "voided",
                  "created_at"]


class RequestOutput(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    model_name = serializers.CharField(source="model_version.model.name", read_only=True)
    approvals = ApprovalOutput(many=True, read_only=True)

    class Meta:
        model = DeploymentRequest
        fields = ["id", "model_version", "model_name", "environment", "audit", "justification", "requested_by",
                  "status", "artifact_digest", "audit_result_hash", "required_approvals", "created_at",
                  "decided_at", "approvals"]


class RequestListApi(generics.ListAPIView):
    permission_classes = [role_permission(ML_ENGINEER)]
    serializer_class = RequestOutput

    def get_queryset(self):
        qs = selectors.request_list().prefetch_related("approvals__reviewer")
        state = self.request.query_params.get("status")
        return qs.filter(status=state) if state else qs

    @extend_schema(request=RequestInput, responses={201: RequestOutput})
    def post(self, request):
        data = RequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.deployment_request_create(actor=request.user, **data.validated_data)
        return Response(RequestOutput(created).data, status=status.HTTP_201_CREATED)


class RequestDetailApi(generics.RetrieveAPIView):
    permission_classes = [role_permission(ML_ENGINEER)]
    serializer_class = RequestOutput

    def get_queryset(self):
        return selectors.request_list().prefetch_related("approvals__reviewer")


class RequestApproveApi(APIView):
    permission_classes = [role_permission(REVIEWER)]

    @extend_schema(request=DecisionInput, responses={200: RequestOutput})
    def post(self, request, pk: int):
        data = DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.deployment_request_approve(actor=request.user, request_id=pk, **data.validated_data)
        return Response(RequestOutput(selectors.request_get(request_id=pk)).data)


class RequestRejectApi(APIView):
    permission_classes = [role_permission(REVIEWER)]

    @extend_schema(request=RejectInput, responses={200: RequestOutput})
    def post(self, request, pk: int):
        data = RejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.deployment_request_reject(actor=request.user, request_id=pk, **data.validated_data)
        return Response(RequestOutput(selectors.request_get(request_id=pk)).data)
