from django.urls import path

from governance.serving import api, views

serve_urls = [
    path("api/serve/<int:model>/<str:environment>/predict/", api.ServePredictApi.as_view(), name="api-serve-predict"),
]

api_urls = serve_urls + [
    path("api/service-tokens/", api.ServiceTokenListApi.as_view(), name="api-service-tokens"),
    path("api/service-tokens/<int:pk>/revoke/", api.ServiceTokenRevokeApi.as_view(), name="api-service-token-revoke"),
    path("api/decisions/", api.DecisionListApi.as_view(), name="api-decisions"),
    path("api/decisions/outcomes/", api.DecisionOutcomesApi.as_view(), name="api-decision-outcomes"),
    path("api/serving-policies/<str:environment>/", api.ServingPolicyApi.as_view(), name="api-serving-policy"),
    path("api/monitoring-reports/", api.MonitoringReportListApi.as_view(), name="api-monitoring-reports"),
    path("api/monitoring-alerts/", api.MonitoringAlertListApi.as_view(), name="api-monitoring-alerts"),
    path("api/monitoring-alerts/<int:pk>/acknowledge/", api.MonitoringAlertAcknowledgeApi.as_view(),
         name="api-monitoring-alert-acknowledge"),
]

page_urls = [
    path("serving/", views.serving_home, name="serving"),
    path("serving/tokens/new/", views.service_token_new, name="service-token-new"),
    path("serving/tokens/<int:pk>/revoke/", views.service_token_revoke, name="service-token-revoke"),
    path("serving/policies/<str:environment>/", views.serving_policy_edit, name="serving-policy-edit"),
    path("serving/monitoring/new/", views.monitoring_new, name="monitoring-new"),
    path("serving/alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="monitoring-alert-acknowledge"),
]

urlpatterns = api_urls + page_urls
