"""The API of large dataset uploads (governance/datasets/large_uploads.py): start, send chunks, read the state.

    POST /api/dataset-uploads/                        the form of /api/datasets/ with file_name and size
    POST /api/dataset-uploads/<id>/chunks/?offset=N   raw bytes (application/octet-stream), at most
                                                      DATASET_UPLOAD_CHUNK_MAX_BYTES; 409 with the offset to
                                                      resume from when N is not the bytes stored so far
    GET  /api/dataset-uploads/<id>/                   offset, status, the loading job, the version once loaded
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.datasets import large_uploads
from governance.datasets.api import DatasetUploadInput, EngineerWrites
from governance.datasets.models import DatasetUpload
from governance.errors import ValidationFailed
from governance.jobs.api import JobOutput


class OctetStreamParser(BaseParser):
    """Declares application/octet-stream; the chunk view reads the body itself, in pieces."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


class UploadStartInput(DatasetUploadInput):
    file = None
    file_name = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1, help_text="The file's size in bytes.")


class UploadOutput(serializers.ModelSerializer):
    offset = serializers.IntegerField(source="received", help_text="Bytes stored: send the next chunk from here.")
    chunk_bytes = serializers.SerializerMethodField()
    job = serializers.SerializerMethodField()

    class Meta:
        model = DatasetUpload
        fields = ["id", "file_name", "file_format", "size", "offset", "status", "version", "error", "created_at",
                  "chunk_bytes", "job"]

    def get_chunk_bytes(self, upload) -> int:
        return settings.DATASET_UPLOAD_CHUNK_BYTES

    def get_job(self, upload) -> dict | None:
        job = large_uploads.dataset_upload_job(upload=upload)
        return JobOutput(job).data if job else None


def _upload_or_404(request, pk: int) -> DatasetUpload:
    try:
        return large_uploads.dataset_upload_get(user=request.user, upload_id=pk)
    except DatasetUpload.DoesNotExist:
        raise Http404("No such upload.") from None


class DatasetUploadStartApi(APIView):
    """Start a chunked upload of a large CSV or JSON Lines file (the same form as POST /api/datasets/)."""

    permission_classes = [EngineerWrites]

    @extend_schema(request=UploadStartInput, responses={201: UploadOutput})
    def post(self, request):
        data = UploadStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = large_uploads.dataset_upload_start(actor=request.user, **data.validated_data)
        return Response(UploadOutput(upload).data, status=status.HTTP_201_CREATED)


class DatasetUploadDetailApi(APIView):
    permission_classes = [EngineerWrites]

    @extend_schema(responses={200: UploadOutput})
    def get(self, request, pk: int):
        return Response(UploadOutput(_upload_or_404(request, pk)).data)


class ConflictOutput(serializers.Serializer):
    detail = serializers.CharField()
    offset = serializers.IntegerField()


class DatasetUploadChunkApi(APIView):
    """Store the body at `offset`; the last byte queues the loading job."""

    permission_classes = [EngineerWrites]
    parser_classes = [OctetStreamParser]

    @extend_schema(request={"application/octet-stream": OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("offset", int, required=True,
                                                description="Where this chunk starts: the upload's offset.")],
                   responses={200: UploadOutput, 409: ConflictOutput})
    def post(self, request, pk: int):
        try:
            offset = int(request.query_params.get("offset", ""))
            if offset < 0:
                raise ValueError
        except ValueError:
            raise ValidationFailed("Give the chunk's offset as a whole number of bytes.", field="offset") from None
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if not (request.content_type or "").startswith("application/octet-stream"):
            raise ValidationFailed("Send the chunk as application/octet-stream.", field="chunk")
        _upload_or_404(request, pk)
        try:
            upload = large_uploads.dataset_upload_append(actor=request.user, upload_id=pk, offset=offset,
                                                         stream=request._request, length=length)
        except large_uploads.OffsetMismatch as exc:
            return Response({"detail": str(exc), "offset": exc.offset}, status=status.HTTP_409_CONFLICT)
        return Response(UploadOutput(upload).data)
