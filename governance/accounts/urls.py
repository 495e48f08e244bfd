from django.contrib.auth import views as auth_views
from django.urls import path

from governance.accounts import api, oidc, views

urlpatterns = [
    path("api/auth/token/", api.TokenObtainApi.as_view(), name="api-token"),
    path("api/account/totp/", api.TotpDeviceApi.as_view(), name="api-totp-device"),
    path("api/account/totp/confirm/", api.TotpConfirmApi.as_view(), name="api-totp-confirm"),
    path("account/totp/", views.totp_device, name="totp-device"),
    path("api/projects/", api.ProjectListApi.as_view(), name="api-projects"),
    path("api/projects/<int:pk>/members/", api.ProjectMemberListApi.as_view(), name="api-project-members"),
    path("projects/", views.project_list, name="projects"),
    path("projects/<int:pk>/", views.project_detail, name="project"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("oidc/authenticate/", oidc.oidc_authenticate, name="oidc_authentication_init"),
    path("oidc/callback/", oidc.oidc_callback, name="oidc_authentication_callback"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
