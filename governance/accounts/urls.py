from django.contrib.auth import views as auth_views
from django.urls import path

from governance.accounts import api, views

urlpatterns = [
    path("api/auth/token/", api.TokenObtainApi.as_view(), name="api-token"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
