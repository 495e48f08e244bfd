from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from governance import api_errors
from governance.accounts import urls as accounts_urls
from governance.approvals import urls as approvals_urls
from governance.auditlog import urls as auditlog_urls
from governance.audits import urls as audits_urls
from governance.compliance import urls as compliance_urls
from governance.dashboard import urls as dashboard_urls
from governance.datasets import urls as datasets_urls
from governance.jobs import urls as jobs_urls
from governance.registry import urls as registry_urls
from governance.serving import urls as serving_urls

# Each app's API and page routes are in its urls.py; names are bare (no app_name namespace): templates and
# tests reverse "audit", "api-audits", ...
apps = [
    path("", include(dashboard_urls)),
    path("", include(accounts_urls)),
    path("", include(datasets_urls)),
    path("", include(registry_urls)),
    path("", include(audits_urls)),
    path("", include(approvals_urls)),
    path("", include(jobs_urls)),
    path("", include(auditlog_urls)),
    path("", include(compliance_urls)),
    path("", include(serving_urls)),
]

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    *apps,
    path("admin/", admin.site.urls),
]

handler404 = api_errors.not_found
