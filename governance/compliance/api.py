"""API of the GDPR and AI Act records (issue #7): organisation profile, record of processing, subject requests
(access, erasure, decisions on affected model versions), retention runs, PII scans, Annex IV.

Exports take ?as=json|csv|pdf ("format" is DRF's own content-negotiation parameter).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.api_fields import text_at_least
from governance.api_lists import instant_filter, list_filters, ordering_field, search_filter
from governance.auditlog.exports import FORMATS, ExportFile
from governance.compliance import documentation, exports, retention, selectors, services, subject_requests
from governance.compliance.subject_requests import MIN_JUSTIFICATION
from governance.compliance.models import (ErasureException, ErasureGround, ErasureImpact, ModelDecision,
                                          ModelDocumentation, OrganisationProfile, RequestKind,
                                          RetentionRun, SubjectRequest, SubjectRequestStatus)
from governance.datasets.models import Dataset, PiiScan
from governance.datasets.services import dataset_metadata_update, dataset_version_pseudonymise
from governance.datasets.selectors import dataset_list, dataset_version_list
from governance.permissions import role_permission
from governance.roles import AUDITOR, COMPLIANCE_OFFICER, ML_ENGINEER

OfficerReads = role_permission(COMPLIANCE_OFFICER, read_roles=(COMPLIANCE_OFFICER, AUDITOR))
# The records of no project (the organisation, GDPR requests, retention): organisation-wide roles only.
OrgOfficerReads = role_permission(COMPLIANCE_OFFICER, read_roles=(COMPLIANCE_OFFICER, AUDITOR), org_wide=True)


def file_response(export: ExportFile) -> HttpResponse:
    response = HttpResponse(export.body, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-SHA256"] = export.document["content_sha256"]
    return response


def _file_schema(*formats: str):
    """OpenAPI for a file export: the ?as= parameter and one response per media type."""
    return extend_schema(
        parameters=[OpenApiParameter("as", str, enum=list(formats), default="json",
                                     description="Export format; every export is logged.")],
        responses={(200, FORMATS[f].split(";")[0]): OpenApiResponse(
            OpenApiTypes.OBJECT if f == "json" else OpenApiTypes.BINARY,
            description="The export (JSON: the envelope with schema, time, author, hashes and content).")
            for f in formats})


def _export_format(request, allowed=("json", "pdf")) -> str:
    fmt = request.query_params.get("as") or "json"  # empty is absent, as every query parameter
    if fmt not in allowed:
        raise serializers.ValidationError({"as": [f"Choose one of: {', '.join(allowed)}."]})
    return fmt


class OrganisationProfileIO(serializers.ModelSerializer):
    # null until the profile is first saved (the GET answers an unsaved default profile).
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = OrganisationProfile
        fields = ["controller_name", "controller_contact", "joint_controllers", "representative", "dpo_name",
                  "dpo_contact", "security_measures", "updated_at"]
        read_only_fields = ["updated_at"]


class OrganisationProfileApi(APIView):
    permission_classes = [OrgOfficerReads]

    @extend_schema(responses={200: OrganisationProfileIO})
    def get(self, request):
        return Response(OrganisationProfileIO(selectors.organisation_profile()).data)

    @extend_schema(request=OrganisationProfileIO, responses={200: OrganisationProfileIO})
    def put(self, request):
        data = OrganisationProfileIO(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        profile = services.organisation_profile_update(actor=request.user, **data.validated_data)
        return Response(OrganisationProfileIO(profile).data)


class ProcessingRecordFileApi(APIView):
    """The record of processing as ?as=json|csv|pdf."""

    permission_classes = [OrgOfficerReads]

    @_file_schema("json", "csv", "pdf")
    def get(self, request):
        fmt = _export_format(request, ("json", "csv", "pdf"))
        return file_response(exports.processing_record_file(actor=request.user, fmt=fmt))


class ProcessingRecordApi(APIView):
    """GDPR Art. 30 record of processing as a JSON export (logged; stamped with the audit-log head): the same
    export as ProcessingRecordFileApi's ?as=json."""

    permission_classes = [OrgOfficerReads]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response(exports.processing_record_file(actor=request.user, fmt="json").document)


class SubjectRequestInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    subject_id = serializers.CharField(max_length=200)
    received_on = serializers.DateField(required=False, allow_null=True, default=None)
    channel = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class ErasureImpactOutput(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)

    class Meta:
        model = ErasureImpact
        fields = ["id", "model_version", "model", "version", "records_removed", "decision", "justification",
                  "retrained_dataset_version", "retrained_model_version", "decided_at"]


class SubjectRequestOutput(serializers.ModelSerializer):
    due_on = serializers.DateField(source="effective_due_on", read_only=True)
    impacts = ErasureImpactOutput(many=True, read_only=True)

    class Meta:
        model = SubjectRequest
        fields = ["id", "reference", "kind", "subject_id", "subject_hash", "received_on", "due_on",
                  "extended_due_on", "extension_reason", "status", "channel", "ground", "exception",
                  "exception_reason", "certificate_sha256", "created_at", "closed_at", "impacts"]


class SubjectRequestFilterInput(serializers.Serializer):
    q = search_filter("The reference contains.")
    subject = serializers.CharField(max_length=200, required=False,
                                    help_text="Requests about this data subject id (matched by its salted hash, "
                                              "so also those whose id an erasure blanked).")
    kind = serializers.ChoiceField(choices=RequestKind.choices, required=False)
    status = serializers.ChoiceField(choices=SubjectRequestStatus.choices, required=False)
    received_after = serializers.DateField(required=False, help_text="Received on or after this date.")
    received_before = serializers.DateField(required=False, help_text="Received before this date.")
    ordering = ordering_field(*selectors.SUBJECT_REQUEST_ORDERING, default="-created_at")


class SubjectRequestListApi(generics.ListAPIView):
    permission_classes = [OrgOfficerReads]
    serializer_class = SubjectRequestOutput

    @extend_schema(parameters=[SubjectRequestFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.subject_request_list(filters=list_filters(SubjectRequestFilterInput, self.request))

    @extend_schema(request=SubjectRequestInput, responses={201: SubjectRequestOutput})
    def post(self, request):
        data = SubjectRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = subject_requests.subject_request_register(actor=request.user, **data.validated_data)
        return Response(SubjectRequestOutput(created).data, status=201)


class SubjectRequestDetailApi(generics.RetrieveAPIView):
    permission_classes = [OrgOfficerReads]
    serializer_class = SubjectRequestOutput

    def get_queryset(self):
        return selectors.subject_request_list()


class SubjectMentionsApi(APIView):
    """The subject's identifiers (read from their own records) and the other people's records that mention
    them (record, dataset version, column, masked snippet): what an access answer lists and an erasure offers
    to redact. Empty once the subject was erased."""

    permission_classes = [OrgOfficerReads]

    @extend_schema(responses={200: dict})
    def get(self, request, pk: int):
        subject_request = get_object_or_404(SubjectRequest, pk=pk)
        if not subject_request.subject_id:
            return Response({"identifiers": [], "mentions": []})
        return Response(selectors.subject_mentions(subject_id=subject_request.subject_id))


class ExtendInput(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=2)
    reason = text_at_least(MIN_JUSTIFICATION, message=f"State the reasons for the extension (at least "
                                                      f"{MIN_JUSTIFICATION} characters); the subject must be told them.")


class SubjectRequestExtendApi(APIView):
    permission_classes = [OrgOfficerReads]

    @extend_schema(request=ExtendInput, responses={200: SubjectRequestOutput})
    def post(self, request, pk: int):
        data = ExtendInput(data=request.data)
        data.is_valid(raise_exception=True)
        updated = subject_requests.subject_request_extend(
            actor=request.user, request=get_object_or_404(SubjectRequest, pk=pk), **data.validated_data)
        return Response(SubjectRequestOutput(updated).data)


class AccessAnswerApi(APIView):
    """The answer to an access request, ?as=json|pdf; exporting it marks the request answered."""

    permission_classes = [role_permission(COMPLIANCE_OFFICER, read_roles=(COMPLIANCE_OFFICER,), org_wide=True)]

    @_file_schema("json", "pdf")
    def get(self, request, pk: int):
        fmt = _export_format(request)
        return file_response(subject_requests.access_answer_export(
            actor=request.user, fmt=fmt, request=get_object_or_404(SubjectRequest, pk=pk)))


class ErasureCertificateApi(APIView):
    permission_classes = [OrgOfficerReads]

    @_file_schema("json", "pdf")
    def get(self, request, pk: int):
        fmt = _export_format(request)
        return file_response(subject_requests.erasure_certificate_export(
            actor=request.user, fmt=fmt, request=get_object_or_404(SubjectRequest, pk=pk)))


class FulfilInput(serializers.Serializer):
    ground = serializers.ChoiceField(choices=ErasureGround.choices)
    exception = serializers.ChoiceField(choices=ErasureException.choices, required=False, allow_blank=True,
                                        default="")
    exception_reason = serializers.CharField(required=False, allow_blank=True, default="")
    redact_mentions = serializers.BooleanField(required=False, default=False,
                                               help_text="Also redact the subject's identifiers where other "
                                                         "people's records mention them.")


class ErasureFulfilApi(APIView):
    permission_classes = [OrgOfficerReads]

    @extend_schema(request=FulfilInput, responses={200: SubjectRequestOutput})
    def post(self, request, pk: int):
        data = FulfilInput(data=request.data)
        data.is_valid(raise_exception=True)
        done = subject_requests.erasure_request_fulfil(
            actor=request.user, request=get_object_or_404(SubjectRequest, pk=pk), **data.validated_data)
        return Response(SubjectRequestOutput(done).data)


class DecideInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[ModelDecision.RETRAIN, ModelDecision.KEEP])
    justification = serializers.CharField(required=False, allow_blank=True, default="")


class ErasureImpactDecideApi(APIView):
    permission_classes = [OrgOfficerReads]

    @extend_schema(request=DecideInput, responses={200: ErasureImpactOutput})
    def post(self, request, pk: int):
        data = DecideInput(data=request.data)
        data.is_valid(raise_exception=True)
        impact = subject_requests.erasure_impact_decide(
            actor=request.user, impact=get_object_or_404(ErasureImpact, pk=pk), **data.validated_data)
        return Response(ErasureImpactOutput(impact).data)


class RetentionRunOutput(serializers.ModelSerializer):
    class Meta:
        model = RetentionRun
        fields = ["id", "started_at", "finished_at", "triggered_by", "records_removed", "predictions_removed",
                  "removed", "stores"]


class RetentionRunFilterInput(serializers.Serializer):
    triggered_by = serializers.CharField(max_length=150, required=False,
                                         help_text='"schedule", or the username of whoever ran it.')
    started_after = instant_filter("Started at or after this instant")
    started_before = instant_filter("Started before this instant")
    ordering = ordering_field(*selectors.RETENTION_RUN_ORDERING, default="-started_at")


class RetentionRunListApi(generics.ListAPIView):
    """Past purges; POST runs one now (the schedule runs it daily)."""

    permission_classes = [OrgOfficerReads]
    serializer_class = RetentionRunOutput

    @extend_schema(parameters=[RetentionRunFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.retention_run_list(filters=list_filters(RetentionRunFilterInput, self.request))

    @extend_schema(request=None, responses={201: RetentionRunOutput})
    def post(self, request):
        return Response(RetentionRunOutput(retention.retention_purge(actor=request.user)).data, status=201)


class PiiScanOutput(serializers.ModelSerializer):
    class Meta:
        model = PiiScan
        fields = ["version", "data", "sha256", "created_at"]


class PiiScanApi(APIView):
    """The PII scan of a dataset version (404 until the worker stored it)."""

    permission_classes = [role_permission()]

    @extend_schema(responses={200: PiiScanOutput})
    def get(self, request, pk: int):
        version = get_object_or_404(dataset_version_list(user=request.user), pk=pk)
        return Response(PiiScanOutput(get_object_or_404(PiiScan, version=version)).data)


class PseudonymiseApi(APIView):
    permission_classes = [role_permission(ML_ENGINEER, COMPLIANCE_OFFICER)]

    @extend_schema(request=None, responses={201: dict})
    def post(self, request, pk: int):
        new = dataset_version_pseudonymise(actor=request.user, version=get_object_or_404(dataset_version_list(user=request.user), pk=pk))
        return Response({"id": new.pk, "dataset": new.dataset_id, "version": new.version, "parent": new.parent_id,
                         "note": new.note, "sha256": new.sha256}, status=201)


class ModelDocumentationIO(serializers.ModelSerializer):
    intended_purpose = serializers.CharField(required=False, allow_blank=True, max_length=20_000)

    class Meta:
        model = ModelDocumentation
        fields = ["intended_purpose", *documentation.EDITABLE]
        extra_kwargs = {name: {"required": False, "allow_blank": True, "max_length": documentation.MAX_LENGTH}
                        for name in documentation.EDITABLE}


class AnnexIvApi(APIView):
    """Annex IV technical documentation of a model version, ?as=json|pdf; PUT edits the model's part."""

    permission_classes = [OfficerReads]

    @_file_schema("json", "pdf")
    def get(self, request, pk: int):
        fmt = _export_format(request)
        version = get_object_or_404(selectors.annex_iv_version(user=request.user), pk=pk)
        return file_response(documentation.annex_iv_file(actor=request.user, model_version=version, fmt=fmt))

    @extend_schema(request=ModelDocumentationIO, responses={200: ModelDocumentationIO})
    def put(self, request, pk: int):
        version = get_object_or_404(selectors.annex_iv_version(user=request.user), pk=pk)
        data = ModelDocumentationIO(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        doc = documentation.model_documentation_update(actor=request.user, model=version.model,
                                                       **data.validated_data)
        return Response({**ModelDocumentationIO(doc).data, "intended_purpose": version.model.intended_purpose})


class DatasetMetadataIO(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = ["description", "lawful_basis", "purposes", "data_subject_categories", "personal_data_categories",
                  "special_categories", "recipients", "third_country_transfers", "transfer_safeguards",
                  "retention_days", "source", "dpia_reference"]
        extra_kwargs = {"retention_days": {"min_value": 1, "max_value": 36500}}


class DatasetMetadataApi(APIView):
    """A dataset's personal-data metadata; PATCH changes some of it (logged)."""

    permission_classes = [OfficerReads]

    @extend_schema(responses={200: DatasetMetadataIO})
    def get(self, request, pk: int):
        return Response(DatasetMetadataIO(get_object_or_404(dataset_list(user=request.user), pk=pk)).data)

    @extend_schema(request=DatasetMetadataIO, responses={200: DatasetMetadataIO})
    def patch(self, request, pk: int):
        dataset = get_object_or_404(dataset_list(user=request.user), pk=pk)
        data = DatasetMetadataIO(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(DatasetMetadataIO(dataset_metadata_update(actor=request.user, dataset=dataset,
                                                                  **data.validated_data)).data)
