"""The audit log's API: entries, verification, the JSON Lines export and signed checkpoints."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from django.http import StreamingHttpResponse
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api_lists import CreatedRangeInput, list_filters, ordering_field
from governance.auditlog import selectors, services
from governance.auditlog.models import AuditLogEntry
from governance.permissions import role_permission
from governance.roles import COMPLIANCE_OFFICER


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
    checkpoint = serializers.DictField(allow_null=True)
    checkpoints_checked = serializers.IntegerField()
    uncovered = serializers.IntegerField(help_text="Entries after the newest valid checkpoint (sealed, not yet "
                                                   "covered: the next checkpoint covers them).")
    uncovered_from = serializers.IntegerField(allow_null=True)


class CheckpointOutput(serializers.Serializer):
    type = serializers.CharField()
    seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    created_at = serializers.CharField()
    created_by = serializers.CharField()
    reason = serializers.CharField()
    algorithm = serializers.CharField()
    public_key = serializers.CharField()
    signature = serializers.CharField()


class AuditLogFilterInput(CreatedRangeInput):
    action = serializers.CharField(max_length=80, required=False, help_text="e.g. audit.requested")
    object_type = serializers.CharField(max_length=80, required=False, help_text="e.g. audits.audit")
    object_id = serializers.CharField(max_length=64, required=False)
    actor = serializers.CharField(max_length=150, required=False, help_text="The actor's username.")
    ordering = ordering_field(*selectors.AUDIT_LOG_ORDERING, default="-seq")


class AuditLogListApi(generics.ListAPIView):
    permission_classes = [role_permission(org_wide=True)]
    serializer_class = AuditLogEntryOutput

    @extend_schema(parameters=[AuditLogFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.audit_log_list(filters=list_filters(AuditLogFilterInput, self.request))


class AuditLogVerifyApi(APIView):
    permission_classes = [role_permission(org_wide=True)]

    @extend_schema(responses={200: VerdictOutput})
    def get(self, request):
        return Response(VerdictOutput(selectors.audit_log_verify()).data)


class StoredCheckpointOutput(CheckpointOutput):
    """A stored checkpoint, rendered as the signed statement it is (AuditCheckpoint.as_dict)."""

    def to_representation(self, checkpoint):
        return super().to_representation(checkpoint.as_dict())


class CheckpointFilterInput(CreatedRangeInput):
    reason = serializers.CharField(max_length=20, required=False, help_text='e.g. "manual", "export"')
    created_by = serializers.CharField(max_length=150, required=False, help_text="Who signed it (username).")
    ordering = ordering_field(*selectors.CHECKPOINT_ORDERING, default="-seq")


class AuditLogCheckpointApi(generics.ListAPIView):
    """GET: the signed checkpoints; POST: sign one of the current head now (compliance officer)."""

    permission_classes = [role_permission(COMPLIANCE_OFFICER, org_wide=True)]
    serializer_class = StoredCheckpointOutput

    @extend_schema(parameters=[CheckpointFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.audit_log_checkpoint_rows(filters=list_filters(CheckpointFilterInput, self.request))

    @extend_schema(request=None, responses={201: CheckpointOutput})
    def post(self, request):
        return Response(CheckpointOutput(services.audit_log_checkpoint_write(request.user)).data, status=201)


class AuditLogExportApi(APIView):
    """The whole log as JSON Lines ending in a fresh signed checkpoint; verify with tools/verify_audit_log.py."""

    permission_classes = [role_permission(org_wide=True)]

    @extend_schema(responses={(200, "application/jsonl"): str})
    def get(self, request):
        return audit_log_export_response(request.user)


def audit_log_export_response(actor) -> StreamingHttpResponse:
    checkpoint, lines = services.audit_log_export(actor=actor)
    response = StreamingHttpResponse(lines, content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{checkpoint["seq"]}.jsonl"'
    response["X-Audit-Log-Head"] = f"{checkpoint['seq']}:{checkpoint['head_hash']}"
    response["X-Audit-Log-Public-Key"] = checkpoint["public_key"]
    return response
