from django.urls import path

from governance.approvals import api, views

api_urls = [
    path("api/deployment-requests/", api.RequestListApi.as_view(), name="api-requests"),
    path("api/deployment-requests/<int:pk>/", api.RequestDetailApi.as_view(), name="api-request"),
    path("api/deployment-requests/<int:pk>/approve/", api.RequestApproveApi.as_view(),
         name="api-request-approve"),
    path("api/deployment-requests/<int:pk>/reject/", api.RequestRejectApi.as_view(),
         name="api-request-reject"),
    path("api/deployment-requests/<int:pk>/recheck/", api.RequestRecheckApi.as_view(),
         name="api-request-recheck"),
    path("api/deployment-requests/<int:pk>/comments/", api.RequestCommentApi.as_view(),
         name="api-request-comments"),
    path("api/deployment-requests/<int:pk>/waivers/", api.RequestWaiverApi.as_view(),
         name="api-request-waivers"),
    path("api/deployment-policies/", api.PolicyListApi.as_view(), name="api-policies"),
    path("api/deployment-policies/<str:environment>/", api.PolicyDetailApi.as_view(), name="api-policy"),
    path("api/webhooks/", api.WebhookListApi.as_view(), name="api-webhooks"),
]

page_urls = [
    path("approvals/", views.request_list, name="deployment-requests"),
    path("approvals/new/", views.request_new, name="deployment-request-new"),
    path("approvals/<int:pk>/", views.request_detail, name="deployment-request"),
    path("approvals/<int:pk>/approve/", views.request_approve, name="deployment-request-approve"),
    path("approvals/<int:pk>/reject/", views.request_reject, name="deployment-request-reject"),
    path("approvals/<int:pk>/comment/", views.request_comment, name="deployment-request-comment"),
    path("approvals/<int:pk>/waiver/", views.request_waiver, name="deployment-request-waiver"),
    path("approvals/<int:pk>/recheck/", views.request_recheck, name="deployment-request-recheck"),
    path("approvals/policies/", views.policy_list, name="deployment-policies"),
    path("approvals/policies/<str:environment>/", views.policy_edit, name="deployment-policy-edit"),
]

urlpatterns = api_urls + page_urls
