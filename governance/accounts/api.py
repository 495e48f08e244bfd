from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.accounts import projects, selectors, services
from governance.accounts.models import Membership, Project
from governance.accounts.oidc import sso_fresh
from governance.api_parsers import JSONParser
from governance.permissions import role_permission
from governance.roles import COMPLIANCE_OFFICER, PROJECT_ROLES, REVIEWER
from governance.throttling import LoginRateThrottle

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


# ------------------------------------------------------------------------------------------------ projects
class ProjectInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")


class ProjectOutput(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Project
        fields = ["id", "slug", "name", "description", "created_at", "member_count"]


class MembershipInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=PROJECT_ROLES)


class MembershipOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "project", "username", "role", "created_at"]


ProjectManagerWrites = role_permission(COMPLIANCE_OFFICER)  # organisation-wide: projects.projects_manage_require


class ProjectListApi(generics.ListAPIView):
    """The projects the caller sees (every one for an organisation-wide role); POST creates one
    (administrators and organisation-wide compliance officers; logged)."""

    permission_classes = [ProjectManagerWrites]
    serializer_class = ProjectOutput

    def get_queryset(self):
        return projects.project_list(user=self.request.user)

    @extend_schema(request=ProjectInput, responses={201: ProjectOutput})
    def post(self, request):
        data = ProjectInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = projects.project_create(actor=request.user, **data.validated_data)
        return Response(ProjectOutput(projects.project_get(project_id=project.pk, user=request.user)).data,
                        status=status.HTTP_201_CREATED)


class ProjectMemberListApi(generics.ListAPIView):
    """A project's members and their roles (404 for a project the caller does not see); POST gives a user a
    role in it, DELETE (same body) takes it away (administrators and organisation-wide compliance officers;
    logged)."""

    permission_classes = [ProjectManagerWrites]
    serializer_class = MembershipOutput

    def get_queryset(self):
        return projects.membership_list(project=projects.project_get(project_id=self.kwargs["pk"],
                                                                     user=self.request.user))

    @extend_schema(request=MembershipInput, responses={201: MembershipOutput})
    def post(self, request, pk: int):
        project = projects.project_get(project_id=pk, user=request.user)
        data = MembershipInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = projects.membership_add(actor=request.user, project=project, **data.validated_data)
        return Response(MembershipOutput(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipInput, responses={204: None})
    def delete(self, request, pk: int):
        project = projects.project_get(project_id=pk, user=request.user)
        data = MembershipInput(data=request.data)
        data.is_valid(raise_exception=True)
        projects.membership_remove(actor=request.user, project=project, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
