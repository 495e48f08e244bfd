from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts.permissions import role_permission
from governance.accounts.roles import ML_ENGINEER
from governance.datasets import selectors, services
from governance.datasets.choices import FileFormat, LawfulBasis
from governance.datasets.models import Dataset, DatasetRecord, DatasetVersion

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
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
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
                  "label_names", "positive_label", "created_at"]


class DatasetOutput(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "owner", "created_at", "version_count", "latest_version",
                  "lawful_basis", "purposes", "data_subject_categories", "personal_data_categories",
                  "special_categories", "recipients", "third_country_transfers", "transfer_safeguards",
                  "retention_days", "source", "dpia_reference"]


class RecordOutput(serializers.ModelSerializer):
    class Meta:
        model = DatasetRecord
        fields = ["id", "row_index", "subject_id", "text", "label", "attributes", "weight"]


class DatasetListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetOutput
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.dataset_list()

    @extend_schema(request=DatasetUploadInput, responses={201: DatasetVersionOutput})
    def post(self, request):
        data = DatasetUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        upload = fields.pop("file")
        version = services.dataset_upload(actor=request.user, raw=upload.read(), file_name=upload.name,
                                          name=fields.pop("name", ""), **fields)
        return Response(DatasetVersionOutput(version).data, status=status.HTTP_201_CREATED)


class DatasetDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetOutput

    def get_queryset(self):
        return selectors.dataset_list()


class DatasetVersionListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetVersionOutput

    def get_queryset(self):
        qs = selectors.dataset_version_list()
        dataset = self.request.query_params.get("dataset")
        return qs.filter(dataset_id=dataset) if dataset and dataset.isdigit() else qs


class DatasetVersionDetailApi(generics.RetrieveAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = DatasetVersionOutput
    queryset = DatasetVersion.objects.select_related("dataset")


class DatasetRecordListApi(generics.ListAPIView):
    permission_classes = [EngineerWrites]
    serializer_class = RecordOutput

    def get_queryset(self):
        return DatasetRecord.objects.filter(version_id=self.kwargs["pk"]).order_by("row_index")
