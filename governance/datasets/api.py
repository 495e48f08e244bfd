from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.errors import NotAllowed, ValidationFailed
from governance.permissions import READ_ROLES, role_permission
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER
from governance.api_lists import (CreatedRangeInput, body_filters, bool_filter, id_filter, list_filters, ordering_field,
                                  refuse_in_query, search_filter)
from governance.datasets import selectors, services, splits
from governance.datasets.choices import FileFormat, LawfulBasis
from governance.datasets.models import Dataset, DatasetRecord, Datasheet, DatasetVersion
from governance.jobs.api import JobOutput
from governance.uploads import UploadPolicy, upload_refusals

EngineerWrites = role_permission(ML_ENGINEER)


class CommaListField(serializers.ListField):
    """Accepts a JSON list or one comma-separated string (HTML forms and curl -F)."""

    def to_internal_value(self, data):
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], str):
            data = data[0]
        if isinstance(data, str):
            data = [part for part in (p.strip() for p in data.split(",")) if part]
        return super().to_internal_value(data)


class DatasetUploadInput(serializers.Serializer):
    project = serializers.IntegerField(required=False, allow_null=True, default=None,
                                       help_text="The project (id) of a new dataset; default: your only project "
                                                 "where you are an ML engineer.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    # Not scoped: the service answers another project's dataset as missing (404), as its page does.
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all(), required=False,
                                                 help_text="Upload a new version of this dataset instead.")
    file = serializers.FileField()
    file_format = serializers.ChoiceField(choices=FileFormat.choices, required=False)
    text_column = serializers.CharField(max_length=100)
    label_column = serializers.CharField(max_length=100)
    subject_column = serializers.CharField(max_length=100)
    sensitive_attributes = CommaListField(child=serializers.CharField(max_length=100), required=False, default=list)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices, required=False, default=LawfulBasis.NONE)
    purposes = serializers.CharField(required=False, allow_blank=True, default="")
    data_subject_categories = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    personal_data_categories = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    special_categories = serializers.BooleanField(required=False, default=False)
    recipients = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    third_country_transfers = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    transfer_safeguards = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    retention_days = serializers.IntegerField(min_value=1, max_value=36500, required=False, allow_null=True,
                                              default=None)
    source = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    dpia_reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")



class DatasetVersionOutput(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset", "dataset_name", "version", "parent", "note", "sha256", "row_count", "file_name",
                  "file_format", "text_column", "label_column", "subject_column", "sensitive_attributes",
                  "label_names", "positive_label", "created_at", "split", "split_role"]


class DatasetOutput(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True)
    metadata_confirmation = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "project", "name", "description", "owner", "created_at", "version_count", "latest_version",
                  "lawful_basis", "purposes", "data_subject_categories", "personal_data_categories",
                  "special_categories", "recipients", "third_country_transfers", "transfer_safeguards",
                  "retention_days", "source", "dpia_reference", "metadata_confirmation"]

    def get_metadata_confirmation(self, dataset) -> dict | None:
        """Who confirmed the personal-data metadata as it stands, and when (null: unconfirmed; the deployment
        gates do not count the lawful basis or the DPIA reference)."""
        return selectors.dataset_metadata_confirmation(dataset=dataset)


class RecordOutput(serializers.ModelSerializer):
    text = serializers.SerializerMethodField()

    class Meta:
        model = DatasetRecord
        fields = ["id", "row_index", "subject_id", "text", "label", "attributes", "weight"]

    def get_text(self, record) -> str:
        if self.context.get("raw_texts"):
            return record.text
        from models_core.pii import mask_text

        return mask_text(record.text)


class DatasetFilterInput(CreatedRangeInput):
    q = search_filter("Name, description or owner's username contains (as the datasets page's search).")
    owner = serializers.CharField(max_length=150, required=False, help_text="The owner's username.")
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices, required=False)
    special_categories = bool_filter("Only datasets that do (true) or do not (false) hold special categories.")
    ordering = ordering_field(*selectors.DATASET_ORDERING, default="name")


class DatasetVersionFilterInput(CreatedRangeInput):
    q = search_filter("Dataset name, note or file name contains.")
    dataset = id_filter("Versions of this dataset.")
    file_format = serializers.ChoiceField(choices=FileFormat.choices, required=False)
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", required=False, help_text="The file's SHA-256 (hex).")
    ordering = ordering_field(*selectors.VERSION_ORDERING, default="-created_at")


class RecordFilterInput(serializers.Serializer):
    q = search_filter("The text contains.")
    label = serializers.CharField(max_length=100, required=False)
    ordering = ordering_field(*selectors.RECORD_ORDERING, default="row_index")


class RecordSearchInput(RecordFilterInput):
    subject_id = serializers.CharField(max_length=200, required=False,
                                       help_text="Only this data subject's records (sent in the body, never a URL).")


def refuse_stopped_uploads(request) -> None:
    """400 at the field when UploadGuard stopped reading a file (over the limit, or not expected)."""
    for field, message in upload_refusals(request).items():
        raise ValidationFailed(message, field=field)


class DatasetListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetOutput
    parser_classes = [MultiPartParser, FormParser]
    upload_policy = UploadPolicy(roles=(ML_ENGINEER,), max_bytes_setting="DATASET_UPLOAD_MAX_BYTES", field="file")

    @extend_schema(parameters=[DatasetFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.dataset_list(user=self.request.user,
                                      filters=list_filters(DatasetFilterInput, self.request))

    @extend_schema(request=DatasetUploadInput, responses={201: DatasetVersionOutput})
    def post(self, request):
        refuse_stopped_uploads(request)
        data = DatasetUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        upload = fields.pop("file")
        # At most one byte past the limit is read: the service refuses it, the file never whole in memory.
        raw = upload.read(settings.DATASET_UPLOAD_MAX_BYTES + 1)
        version = services.dataset_upload(actor=request.user, raw=raw, file_name=upload.name,
                                          name=fields.pop("name", ""), **fields)
        return Response(DatasetVersionOutput(version).data, status=status.HTTP_201_CREATED)


class DatasetDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetOutput

    def get_queryset(self):
        return selectors.dataset_list(user=self.request.user)


class DatasetVersionListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetVersionOutput

    @extend_schema(parameters=[DatasetVersionFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.dataset_version_list(user=self.request.user,
                                              filters=list_filters(DatasetVersionFilterInput, self.request))


class DatasetVersionDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetVersionOutput

    def get_queryset(self):
        return selectors.dataset_version_list(user=self.request.user)


class DatasetRecordListApi(generics.ListAPIView):
    """A version's records. A data subject's records: POST `{"subject_id": ...}` to `search/` (a subject id in
    this URL's query string is refused: access logs keep URLs)."""

    permission_classes = [EngineerWrites]
    serializer_class = RecordOutput

    @extend_schema(parameters=[RecordFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def filters(self) -> dict:
        refuse_in_query(self.request, "subject_id",
                        search_url=f"/api/dataset-versions/{self.kwargs['pk']}/records/search/")
        return list_filters(RecordFilterInput, self.request)

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "raw_texts": getattr(self, "raw_texts", False)}

    def get_queryset(self):
        filters = self.filters()
        try:
            version = selectors.dataset_version_get(version_id=self.kwargs["pk"], user=self.request.user)
        except DatasetVersion.DoesNotExist:
            raise Http404("No such dataset version.") from None
        self.raw_texts = selectors.dataset_texts_readable_raw(user=self.request.user, version=version)
        if filters.get("q") and not self.raw_texts:
            # A search in texts a reader sees masked would tell them whether a name is in the data.
            raise NotAllowed("Searching the texts needs the ML engineer or compliance officer role; other "
                             "readers see them masked.", field="q")
        return selectors.dataset_record_list(version=version, filters=filters)


class DatasetRecordSearchApi(DatasetRecordListApi):
    """The records list with its filters in the POST body, `subject_id` among them; a read (every reader's
    role), pages still `?page=` / `?page_size=`."""

    permission_classes = [role_permission(*READ_ROLES)]
    http_method_names = ["post", "options"]

    @extend_schema(request=RecordSearchInput, responses={200: RecordOutput(many=True)})
    def post(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def filters(self) -> dict:
        return body_filters(RecordSearchInput, self.request)


# ------------------------------------------------------------------------------------------- datasheets
class DatasheetOutput(serializers.ModelSerializer):
    class Meta:
        model = Datasheet
        fields = ["id", "version", "sha256", "created_at", "data"]


class DriftInput(serializers.Serializer):
    against = serializers.PrimaryKeyRelatedField(queryset=DatasetVersion.objects.none(),
                                                 help_text="The reference version (A), e.g. the training data.")

    def __init__(self, *args, user=None, **kwargs):  # user None: the schema generator's instance
        super().__init__(*args, **kwargs)
        if user is not None:
            self.fields["against"].queryset = selectors.dataset_version_list(user=user)


class DriftOutput(serializers.Serializer):
    a = serializers.IntegerField(source="against_id", help_text="The reference version (against).")
    b = serializers.IntegerField(source="version_id", help_text="The compared version.")
    sha256 = serializers.CharField(help_text="SHA-256 of the canonical JSON of `drift`.")
    computed_at = serializers.DateTimeField()
    drift = serializers.JSONField(source="data", help_text="models_core.dataset_drift: columns, text_length, "
                                  "label_shift, groups, new_groups, vanished_groups, missing, vocabulary.")


class ResampleInput(serializers.Serializer):
    seed = serializers.IntegerField(min_value=0, max_value=services.MAX_SEED, required=False, default=0)


class DerivedVersionOutput(DatasetVersionOutput):
    datasheet_job = serializers.SerializerMethodField()

    class Meta(DatasetVersionOutput.Meta):
        fields = [*DatasetVersionOutput.Meta.fields, "datasheet_job"]

    def get_datasheet_job(self, version) -> int | None:
        job = selectors.datasheet_job(version=version)
        return job.pk if job else None


def _version_or_404(request, pk: int) -> DatasetVersion:
    return get_object_or_404(selectors.dataset_version_list(user=request.user), pk=pk)


class DatasheetApi(APIView):
    """The stored datasheet of a version; 404 with the job's state while it is being computed."""

    permission_classes = [EngineerWrites]

    @extend_schema(responses={200: DatasheetOutput})
    def get(self, request, pk: int):
        version = _version_or_404(request, pk)
        sheet = selectors.datasheet_get(version)
        if sheet is None:
            job = selectors.datasheet_job(version=version)
            if job is None:
                state = "none was requested"
            else:
                state = f"its job is {job.status}" + (f": {job.error}" if job.error else "")
            return Response({"detail": f"{version} has no datasheet yet ({state}).",
                             "job": JobOutput(job).data if job else None}, status=status.HTTP_404_NOT_FOUND)
        return Response(DatasheetOutput(sheet).data)


class DriftPendingOutput(serializers.Serializer):
    detail = serializers.CharField()
    job = JobOutput()


class DatasetDriftApi(APIView):
    """Drift of this version (B) against `?against=<id>` (A): per-column shift, label shift, groups.
    Computed once per pair by a worker: 202 with the job while it runs (poll again), then 200."""

    permission_classes = [EngineerWrites]

    @extend_schema(parameters=[DriftInput], responses={200: DriftOutput, 202: DriftPendingOutput})
    def get(self, request, pk: int):
        version = _version_or_404(request, pk)
        data = DriftInput(data=request.query_params, user=request.user)
        data.is_valid(raise_exception=True)
        drift, job = services.dataset_drift_request(actor=request.user, version=version,
                                                    against=data.validated_data["against"])
        if drift.data is None:
            return Response(DriftPendingOutput({"detail": "The drift is being computed; ask again shortly.",
                                                "job": job}).data, status=status.HTTP_202_ACCEPTED)
        return Response(DriftOutput(drift).data)


class SplitInput(serializers.Serializer):
    shares = serializers.DictField(child=serializers.FloatField(min_value=0, max_value=1), required=False,
                                   default=None, allow_null=True,
                                   help_text="Share of each part: train, validation, holdout (sum 1). Default "
                                             "0.7 / 0.15 / 0.15.")
    seed = serializers.IntegerField(min_value=0, max_value=services.MAX_SEED, required=False, default=0)


class SplitOutput(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.IntegerField(source="source_id")
    seed = serializers.IntegerField()
    shares = serializers.DictField(child=serializers.FloatField())
    stratified_by = serializers.ListField(child=serializers.CharField())
    sha256 = serializers.CharField(help_text="SHA-256 of the assignment (each row's part, in row order).")
    summary = serializers.JSONField(help_text="Per part: rows, label counts, stratum counts.")
    parts = serializers.SerializerMethodField()

    def get_parts(self, split) -> dict[str, dict]:
        return {p.split_role: DerivedVersionOutput(p).data for p in split.parts.order_by("version")}


class DatasetSplitApi(APIView):
    """Split the version into train / validation / holdout child versions: by subject, stratified by label
    and the sensitive attributes, seeded; each part a version with its own datasheet."""

    permission_classes = [EngineerWrites]

    @extend_schema(request=SplitInput, responses={201: SplitOutput})
    def post(self, request, pk: int):
        version = _version_or_404(request, pk)
        data = SplitInput(data=request.data)
        data.is_valid(raise_exception=True)
        split = splits.dataset_version_split(actor=request.user, version=version, **data.validated_data)
        return Response(SplitOutput(split).data, status=status.HTTP_201_CREATED)


class DatasetReweighApi(APIView):
    permission_classes = [EngineerWrites]

    @extend_schema(request=None, responses={201: DerivedVersionOutput})
    def post(self, request, pk: int):
        new = services.dataset_version_reweigh(actor=request.user, version=_version_or_404(request, pk))
        return Response(DerivedVersionOutput(new).data, status=status.HTTP_201_CREATED)


class DatasetResampleApi(APIView):
    permission_classes = [EngineerWrites]

    @extend_schema(request=ResampleInput, responses={201: DerivedVersionOutput})
    def post(self, request, pk: int):
        version = _version_or_404(request, pk)
        data = ResampleInput(data=request.data)
        data.is_valid(raise_exception=True)
        new = services.dataset_version_resample(actor=request.user, version=version, **data.validated_data)
        return Response(DerivedVersionOutput(new).data, status=status.HTTP_201_CREATED)


class DatasetMetadataConfirmApi(APIView):
    """A compliance officer confirms the dataset's personal-data metadata as it stands (logged); the
    deployment gates count the lawful basis and the DPIA reference only once confirmed."""

    permission_classes = [role_permission(COMPLIANCE_OFFICER)]

    @extend_schema(request=None, responses={200: DatasetOutput})
    def post(self, request, pk: int):
        dataset = services.dataset_metadata_confirm(
            actor=request.user, dataset=get_object_or_404(selectors.dataset_list(user=request.user), pk=pk))
        return Response(DatasetOutput(selectors.dataset_get(dataset_id=dataset.pk, user=request.user)).data)
