from django.urls import path

from governance.audits import api, views

api_urls = [
    path("api/audits/", api.AuditListApi.as_view(), name="api-audits"),
    path("api/audits/compare/", api.AuditCompareApi.as_view(), name="api-audit-compare"),
    path("api/audits/<int:pk>/", api.AuditDetailApi.as_view(), name="api-audit"),
    path("api/audits/<int:pk>/predictions/", api.AuditPredictionListApi.as_view(), name="api-audit-predictions"),
    path("api/audits/<int:pk>/predictions/search/", api.AuditPredictionSearchApi.as_view(),
         name="api-audit-predictions-search"),
    path("api/audits/<int:pk>/reveal/", api.AuditTextRevealApi.as_view(), name="api-audit-text-reveal"),
]

page_urls = [
    path("audits/", views.audit_list, name="audits"),
    path("audits/new/", views.audit_new, name="audit-new"),
    path("audits/compare/", views.audit_compare, name="audit-compare"),
    path("audits/<int:pk>/", views.audit_detail, name="audit"),
    path("audits/<int:pk>/export/<str:fmt>/", views.audit_export, name="audit-export"),
    path("audits/<int:pk>/reveal/", views.audit_text_reveal, name="audit-text-reveal"),
]

urlpatterns = api_urls + page_urls
