"""The generative versions' API (issue 23): continue a prompt, import a GPT-2-family folder."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.errors import ValidationFailed
from governance.permissions import READ_ROLES, role_permission
from governance.registry import decoder_imports, decoders, selectors
from governance.registry.api import EngineerWrites, ModelVersionOutput
from governance.roles import ML_ENGINEER
from governance.uploads import UploadPolicy, upload_refusals


class GenerateInput(serializers.Serializer):
    prompt = serializers.CharField(max_length=2000, allow_blank=True, trim_whitespace=False)
    strategy = serializers.ChoiceField(choices=["greedy", "top_k", "top_p"], default="greedy")
    max_new_tokens = serializers.IntegerField(min_value=1, max_value=512, default=40)
    top_k = serializers.IntegerField(min_value=1, max_value=100000, default=40)
    top_p = serializers.FloatField(min_value=0.001, max_value=1.0, default=0.9)
    temperature = serializers.FloatField(min_value=0.01, max_value=10.0, default=1.0)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)


class GenerateOutput(serializers.Serializer):
    prompt = serializers.CharField()
    continuation = serializers.CharField()
    settings = serializers.DictField()
    model_version = serializers.IntegerField()
    artifact_digest = serializers.CharField()


class ModelVersionGenerateApi(APIView):
    """Continue a prompt with a ready generative (decoder) version: greedy, top-k or top-p, seeded."""

    permission_classes = [role_permission(*READ_ROLES)]

    @extend_schema(request=GenerateInput, responses={200: GenerateOutput})
    def post(self, request, pk: int):
        version = generics.get_object_or_404(selectors.model_version_list(user=request.user), pk=pk)
        data = GenerateInput(data=request.data)
        data.is_valid(raise_exception=True)
        out = decoders.model_version_generate(actor=request.user, version=version, **data.validated_data)
        return Response(GenerateOutput(out).data)


class DecoderImportInput(serializers.Serializer):
    project = serializers.IntegerField(required=False, allow_null=True, default=None)
    model_name = serializers.CharField(max_length=200)
    archive = serializers.FileField(help_text="A zipped Hugging Face GPT-2 folder: config.json, model.safetensors, "
                                              "tokenizer.json. Pickle checkpoints are refused.")
    intended_purpose = serializers.CharField(required=False, allow_blank=True, default="")


class DecoderImportApi(APIView):
    """Import a zipped Hugging Face GPT-2-family model as a ready generative version (safetensors only)."""

    permission_classes = [EngineerWrites]
    parser_classes = [MultiPartParser, FormParser]
    upload_policy = UploadPolicy(roles=(ML_ENGINEER,), max_bytes_setting="PRETRAINED_UPLOAD_MAX_BYTES", field="archive")

    @extend_schema(request={"multipart/form-data": DecoderImportInput}, responses={201: ModelVersionOutput})
    def post(self, request):
        for field, message in upload_refusals(request).items():
            raise ValidationFailed(message, field=field)
        data = DecoderImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        upload = fields.pop("archive")
        version = decoder_imports.decoder_version_import(actor=request.user, archive=upload, file_name=upload.name,
                                                         size=upload.size, **fields)
        return Response(ModelVersionOutput(version).data, status=status.HTTP_201_CREATED)
