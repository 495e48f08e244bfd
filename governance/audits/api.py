from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from django.http import Http404

from governance.accounts.scoped_inputs import ScopedInput
from governance.datasets.selectors import dataset_version_list
from governance.permissions import READ_ROLES, role_permission
from governance.registry.selectors import model_version_list
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.api_lists import (CreatedRangeInput, ListPagination, body_filters, id_filter, list_filters,
                                  ordering_field, refuse_in_query, search_filter)
from governance.audits import selectors, services
from governance.audits.models import Audit, AuditStatus, Prediction
from governance.datasets.models import DatasetVersion
from governance.registry.models import ModelVersion

EngineerWrites = role_permission(ML_ENGINEER)
RevealWrites = role_permission(REVIEWER, COMPLIANCE_OFFICER)


class RobustnessExpectationInput(serializers.Serializer):
    phrase = serializers.CharField(max_length=300)
    direction = serializers.ChoiceField(choices=["up", "down"])
    tolerance = serializers.FloatField(min_value=0, max_value=0.99, required=False)
    position = serializers.ChoiceField(choices=["append", "prepend"], required=False)


class AuditInput(ScopedInput):
    scoped_fields = {"model_version": model_version_list, "dataset_version": dataset_version_list,
                     "scorer_version": model_version_list}

    model_version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.none())
    dataset_version = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.none())
    explain_rows = serializers.IntegerField(min_value=0, max_value=500, required=False, allow_null=True,
                                            default=None)
    word_pairs = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(max_length=60), min_length=2, max_length=2),
        required=False, allow_null=True, default=None, max_length=200,
        help_text="Counterfactual word pairs [[term of group 1, term of group 2], ...]; default: the core's "
                  "gendered words and names.")
    counterfactual_groups = serializers.ListField(child=serializers.CharField(max_length=60), min_length=2,
                                                  max_length=2, required=False, allow_null=True, default=None)
    overlap_justification = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default="",
        help_text="Needed only to audit on rows the model was trained on (refused otherwise); the report is "
                  "flagged with it.")
    scorer_version = serializers.PrimaryKeyRelatedField(
        queryset=ModelVersion.objects.none(), required=False, allow_null=True, default=None,
        help_text="Generative versions only: a classifier version scoring continuations for the prompt-swap test.")
    robustness = serializers.BooleanField(default=False, help_text="Run the invariance suites, the directional "
                                          "expectations and the adversarial search (models_core.robustness).")
    robustness_expectations = serializers.ListField(
        child=RobustnessExpectationInput(), required=False, allow_null=True, default=None, max_length=20,
        help_text="Directional expectations: adding `phrase` should move the positive-class score `direction`; "
                  "a text fails when it moves the other way by more than `tolerance` (default 0.1).")
    robustness_max_texts = serializers.IntegerField(min_value=20, max_value=100_000, required=False,
                                                    allow_null=True, default=None,
                                                    help_text="Texts tested at most (a seeded sample); default 1000.")


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


def audit_rows_output(rows) -> list[dict]:
    """Rows of selectors.audit_rows as AuditOutput renders audits (the list's fast path;
    tests/governance/audits/test_api_performance.py holds the two to the same output)."""
    # AuditOutput's DateTimeFields format in the current time zone, which they look up for every value.
    stamp = serializers.DateTimeField(default_timezone=timezone.get_current_timezone()).to_representation
    return [_audit_row_output(row, stamp) for row in rows]


def _audit_row_output(row: dict, stamp) -> dict:
    return {"id": row["id"], "model_version": row["model_version_id"], "model_name": row["model_name"],
            "model_version_number": row["model_version_number"], "dataset_version": row["dataset_version_id"],
            "dataset_name": row["dataset_name"], "status": row["status"], "requested_by": row["requester"],
            "config": row["config"], "created_at": stamp(row["created_at"]), "started_at": stamp(row["started_at"]),
            "finished_at": stamp(row["finished_at"]),
            "error": row["error"], "artifact_digest": row["artifact_digest"], "summary": row["summary"],
            "result_hash": row["result_hash"]}


class AuditDetailOutput(AuditOutput):
    results = serializers.SerializerMethodField()
    provisional_results = serializers.SerializerMethodField(
        help_text="While the audit runs: the stages finished so far (no verdict, no hash: final only when every "
                  "stage is done, in `results`); empty once it completes or fails.")

    class Meta(AuditOutput.Meta):
        fields = AuditOutput.Meta.fields + ["results", "provisional_results"]

    def get_results(self, audit) -> dict:
        return selectors.audit_results_shown(audit=audit)

    def get_provisional_results(self, audit) -> dict:
        return selectors.audit_provisional_shown(audit=audit)


class AuditCompareInput(ScopedInput):
    scoped_fields = {"a": selectors.audit_list, "b": selectors.audit_list}

    a = serializers.PrimaryKeyRelatedField(queryset=Audit.objects.none())
    b = serializers.PrimaryKeyRelatedField(queryset=Audit.objects.none())


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


class AuditFilterInput(CreatedRangeInput):
    q = search_filter("The audit number, or the model's or dataset's name or the requester contains (as the "
                      "audits page's search).")
    status = serializers.ChoiceField(choices=AuditStatus.choices, required=False)
    model = id_filter("Audits of this model's versions.")
    dataset = id_filter("Audits on a version of this dataset.")
    model_version = id_filter("Audits of this model version.")
    dataset_version = id_filter("Audits on this dataset version.")
    requested_by = serializers.CharField(max_length=150, required=False, help_text="The requester's username.")
    ordering = ordering_field(*selectors.AUDIT_ORDERING, default="-created_at")


class PredictionFilterInput(serializers.Serializer):
    predicted_label = serializers.CharField(max_length=100, required=False)
    ordering = ordering_field(*selectors.PREDICTION_ORDERING, default="id")


class PredictionSearchInput(PredictionFilterInput):
    subject_id = serializers.CharField(max_length=200, required=False,
                                       help_text="Only the decisions about this data subject (sent in the body, "
                                                 "never a URL).")


class AuditRowsPaginator(ListPagination.django_paginator_class):
    """Counts the audits alone (the rows' joins only add names) and reads the page as plain rows."""

    def _get_page(self, object_list, number, paginator):
        return super()._get_page(selectors.audit_rows(object_list), number, paginator)


class AuditRowsPagination(ListPagination):
    django_paginator_class = AuditRowsPaginator


class AuditListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = AuditOutput
    pagination_class = AuditRowsPagination

    @extend_schema(parameters=[AuditFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.audit_list(user=self.request.user, filters=list_filters(AuditFilterInput, self.request))

    def list(self, request, *args, **kwargs):
        # The hot path (issue 9): a page of plain rows (AuditRowsPagination) rendered as AuditOutput renders
        # audits, instead of six model instances per row read through a dozen DRF fields each. Same output.
        return self.get_paginated_response(audit_rows_output(self.paginate_queryset(self.get_queryset())))

    @extend_schema(request=AuditInput, responses={202: AuditOutput})
    def post(self, request):
        data = AuditInput(data=request.data, user=request.user)
        data.is_valid(raise_exception=True)
        audit = services.audit_request(actor=request.user, **data.validated_data)
        return Response(AuditOutput(audit).data, status=status.HTTP_202_ACCEPTED)


class AuditDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = AuditDetailOutput

    def get_queryset(self):
        return selectors.audit_list(user=self.request.user).prefetch_related("results")


class AuditPredictionListApi(generics.ListAPIView):
    """An audit's predictions. The decisions about one data subject: POST `{"subject_id": ...}` to `search/` (a
    subject id in this URL's query string is refused: access logs keep URLs)."""

    permission_classes = [EngineerWrites]
    serializer_class = PredictionOutput

    @extend_schema(parameters=[PredictionFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def filters(self) -> dict:
        refuse_in_query(self.request, "subject_id", search_url=f"/api/audits/{self.kwargs['pk']}/predictions/search/")
        return list_filters(PredictionFilterInput, self.request)

    def get_queryset(self):
        try:
            return selectors.prediction_list(audit_id=self.kwargs["pk"], user=self.request.user,
                                             filters=self.filters())
        except Audit.DoesNotExist:
            raise Http404("No such audit.") from None


class AuditPredictionSearchApi(AuditPredictionListApi):
    """The predictions list with its filters in the POST body, `subject_id` among them; a read (every reader's
    role), pages still `?page=` / `?page_size=`."""

    permission_classes = [role_permission(*READ_ROLES)]
    http_method_names = ["post", "options"]

    @extend_schema(request=PredictionSearchInput, responses={200: PredictionOutput(many=True)})
    def post(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def filters(self) -> dict:
        return body_filters(PredictionSearchInput, self.request)


class AuditCompareApi(APIView):
    """Two complete audits side by side: `?a=<audit id>&b=<audit id>`."""

    permission_classes = [EngineerWrites]

    @extend_schema(parameters=[AuditCompareInput], responses={200: AuditCompareOutput})
    def get(self, request):
        data = AuditCompareInput(data=request.query_params, user=request.user)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        comparison = selectors.audit_comparison(a=selectors.audit_get(audit_id=params["a"].pk, user=request.user),
                                                b=selectors.audit_get(audit_id=params["b"].pk, user=request.user))
        return Response(AuditCompareOutput(comparison).data)


class AuditTextRevealInput(serializers.Serializer):
    ref = serializers.CharField(max_length=400, help_text="The text's ref, from the results' `masked_refs`.")
    reason = serializers.CharField(max_length=1000, help_text="Why you need to see it (kept in the audit log).")


class AuditTextRevealOutput(serializers.Serializer):
    ref = serializers.CharField()
    text = serializers.CharField()


class AuditTextRevealApi(APIView):
    """One masked text of an audit's results, unmasked, for a reviewer or compliance officer who says why;
    the reveal is logged (ref and reason, not the text)."""

    permission_classes = [RevealWrites]

    @extend_schema(request=AuditTextRevealInput, responses={200: AuditTextRevealOutput})
    def post(self, request, pk: int):
        audit = generics.get_object_or_404(selectors.audit_list(user=request.user), pk=pk)
        data = AuditTextRevealInput(data=request.data)
        data.is_valid(raise_exception=True)
        text = services.audit_text_reveal(actor=request.user, audit=audit, **data.validated_data)
        return Response(AuditTextRevealOutput({"ref": data.validated_data["ref"], "text": text}).data)
