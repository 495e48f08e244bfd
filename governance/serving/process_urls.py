"""The serving process's routes (governance/serving_wsgi.py): the predict endpoint and a health check only.
The dashboard's pages and the rest of the API are the web process's (governance.urls)."""

from django.http import JsonResponse
from django.urls import path

from governance import api_errors
from governance.serving.runtime import SERVED
from governance.serving.urls import serve_urls


def health(request):
    return JsonResponse({"status": "ok", "held": {f"{m}/{e}": v for (m, e), v in SERVED.held().items()}})


urlpatterns = [*serve_urls, path("healthz", health, name="serving-health")]

handler404 = api_errors.not_found
