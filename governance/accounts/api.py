from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts import selectors, services
from governance.accounts.oidc import sso_fresh
from governance.api_parsers import JSONParser
from governance.permissions import role_permission
from governance.throttling import LoginRateThrottle
from governance.roles import COMPLIANCE_OFFICER, REVIEWER

SIGNING_ROLES = (REVIEWER, COMPLIANCE_OFFICER)  # who signs decisions (approve, waive) with a step-up
from governance.accounts.lockout import BLOCKED_MESSAGE, locked_out


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class TokenObtainApi(APIView):
    """Exchange a username and password for the user's API token (`Authorization: Token <key>`).

    Failed attempts count towards the same django-axes lockout as the HTML form (Django's authenticate(),
    which AuthTokenSerializer calls, runs axes' backend and sends the failure signal axes counts)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]  # per address, in every environment (the lockout is per username too)
    parser_classes = [JSONParser, FormParser, MultiPartParser]  # `curl -d username=… -d password=…` works too

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenOutput}, auth=[])
    def post(self, request):
        data = AuthTokenSerializer(data=request.data, context={"request": request})
        if not data.is_valid():
            if locked_out(request):
                return Response({"non_field_errors": [BLOCKED_MESSAGE]}, status=status.HTTP_429_TOO_MANY_REQUESTS)
            return Response(data.errors, status=status.HTTP_400_BAD_REQUEST)
        token, _ = Token.objects.get_or_create(user=data.validated_data["user"])
        return Response({"token": token.key})


class TotpEnrolInput(serializers.Serializer):
    password = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False,
                                     help_text="Your password; single sign-on accounts, which have none, enrol "
                                               "within minutes of signing in at the provider instead.")


class TotpConfirmInput(serializers.Serializer):
    token = serializers.CharField(max_length=10)


class TotpStatusOutput(serializers.Serializer):
    confirmed = serializers.BooleanField()
    pending = serializers.BooleanField()
    step_up = serializers.CharField()


class TotpProvisioningOutput(serializers.Serializer):
    otpauth_url = serializers.CharField()
    key_base32 = serializers.CharField()


class TotpDeviceApi(APIView):
    """The caller's TOTP device (django-otp), for reviewers and compliance officers (who sign decisions). POST (password re-entered) starts an enrolment and shows the key
    once; it counts for step-up (approve, waive: `otp_token`) once confirmed at `confirm/`."""

    permission_classes = [role_permission(*SIGNING_ROLES)]

    @extend_schema(responses={200: TotpStatusOutput})
    def get(self, request):
        return Response(TotpStatusOutput(selectors.totp_status(user=request.user)).data)

    @extend_schema(request=TotpEnrolInput, responses={201: TotpProvisioningOutput})
    def post(self, request):
        data = TotpEnrolInput(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.totp_device_enrol(actor=request.user, fresh_sso=sso_fresh(request),
                                            **data.validated_data)
        return Response(TotpProvisioningOutput(selectors.totp_provisioning(device=device)).data,
                        status=status.HTTP_201_CREATED)


class TotpConfirmApi(APIView):
    permission_classes = [role_permission(*SIGNING_ROLES)]

    @extend_schema(request=TotpConfirmInput, responses={200: TotpStatusOutput})
    def post(self, request):
        data = TotpConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.totp_device_confirm(actor=request.user, **data.validated_data)
        return Response(TotpStatusOutput(selectors.totp_status(user=request.user)).data)
