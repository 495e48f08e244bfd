from django.urls import path

from governance.dashboard import views

urlpatterns = [
    path("", views.home, name="home"),
]
