from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.permissions import role_permission
from governance.accounts.roles import AUDITOR, COMPLIANCE_OFFICER
from governance.compliance import exports, selectors, services
from governance.compliance.models import AuditLogEntry

ComplianceWrites = role_permission(COMPLIANCE_OFFICER)


class AuditLogEntryOutput(serializers.ModelSerializer):
    class Meta:
        model = AuditLogEntry
        fields = ["seq", "created_at", "actor_username", "action", "object_type", "object_id", "payload",
                  "prev_hash", "hash"]


class VerdictOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    checked = serializers.IntegerField()
    head_seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField())


class AuditLogListApi(generics.ListAPIView):
    permission_classes = [role_permission()]
    serializer_class = AuditLogEntryOutput

    def get_queryset(self):
        qs = selectors.audit_log_list()
        action = self.request.query_params.get("action")
        return qs.filter(action=action) if action else qs


class AuditLogVerifyApi(APIView):
    permission_classes = [role_permission()]

    @extend_schema(responses={200: VerdictOutput})
    def get(self, request):
        return Response(VerdictOutput(selectors.audit_log_verify()).data)


class ProcessingRecordApi(APIView):
    """GDPR Art. 30 record of processing as a JSON export (logged; stamped with the audit-log head)."""

    permission_classes = [role_permission(COMPLIANCE_OFFICER, read_roles=(COMPLIANCE_OFFICER, AUDITOR))]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(services.export_create(actor=request.user, schema=exports.PROCESSING_RECORD_SCHEMA,
                                               content=exports.processing_record()))
