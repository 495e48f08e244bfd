"""Routes of the GDPR and AI Act records, included from governance/urls.py; names are global (no namespace)."""

from django.urls import path

from governance.compliance import api, views

api_urls = [
    path("api/compliance/processing-record/", api.ProcessingRecordApi.as_view(), name="api-processing-record"),
    path("api/compliance/organisation/", api.OrganisationProfileApi.as_view(), name="api-organisation"),
    path("api/compliance/processing-record/file/", api.ProcessingRecordFileApi.as_view(),
         name="api-processing-record-file"),
    path("api/compliance/requests/", api.SubjectRequestListApi.as_view(), name="api-subject-requests"),
    path("api/compliance/requests/<int:pk>/", api.SubjectRequestDetailApi.as_view(), name="api-subject-request"),
    path("api/compliance/requests/<int:pk>/mentions/", api.SubjectMentionsApi.as_view(),
         name="api-subject-mentions"),
    path("api/compliance/requests/<int:pk>/extend/", api.SubjectRequestExtendApi.as_view(),
         name="api-subject-request-extend"),
    path("api/compliance/requests/<int:pk>/answer/", api.AccessAnswerApi.as_view(), name="api-access-answer"),
    path("api/compliance/requests/<int:pk>/fulfil/", api.ErasureFulfilApi.as_view(), name="api-erasure-fulfil"),
    path("api/compliance/requests/<int:pk>/certificate/", api.ErasureCertificateApi.as_view(),
         name="api-erasure-certificate"),
    path("api/compliance/erasure-impacts/<int:pk>/decide/", api.ErasureImpactDecideApi.as_view(),
         name="api-erasure-impact-decide"),
    path("api/compliance/datasets/<int:pk>/metadata/", api.DatasetMetadataApi.as_view(),
         name="api-dataset-metadata"),
    path("api/compliance/retention-runs/", api.RetentionRunListApi.as_view(), name="api-retention-runs"),
    path("api/compliance/pii-scans/<int:pk>/", api.PiiScanApi.as_view(), name="api-pii-scan"),
    path("api/compliance/pii-scans/<int:pk>/pseudonymise/", api.PseudonymiseApi.as_view(),
         name="api-pseudonymise"),
    path("api/compliance/annex-iv/<int:pk>/", api.AnnexIvApi.as_view(), name="api-annex-iv"),
]

page_urls = [
    path("compliance/", views.compliance_home, name="compliance"),
    path("compliance/processing-record.json", views.processing_record_export, name="processing-record-export"),
    path("compliance/profile/", views.profile_edit, name="organisation-profile"),
    path("compliance/processing-record/export/", views.processing_record_file, name="processing-record-file"),
    path("compliance/requests/", views.subject_request_list, name="subject-requests"),
    path("compliance/requests/<int:pk>/", views.subject_request_detail, name="subject-request"),
    path("compliance/requests/<int:pk>/extend/", views.subject_request_extend, name="subject-request-extend"),
    path("compliance/requests/<int:pk>/fulfil/", views.erasure_fulfil, name="erasure-fulfil"),
    path("compliance/requests/<int:pk>/answer/", views.access_answer_file, name="access-answer-file"),
    path("compliance/requests/<int:pk>/certificate/", views.erasure_certificate_file, name="erasure-certificate-file"),
    path("compliance/erasure-impacts/<int:pk>/decide/", views.erasure_impact_decide, name="erasure-impact-decide"),
    path("compliance/datasets/", views.dataset_metadata_list, name="compliance-datasets"),
    path("compliance/datasets/<int:pk>/", views.dataset_metadata_edit, name="compliance-dataset"),
    path("compliance/retention/", views.retention_runs, name="retention-runs"),
    path("compliance/annex-iv/", views.annex_iv_list, name="annex-iv-list"),
    path("compliance/annex-iv/<int:pk>/", views.annex_iv_page, name="annex-iv"),
    path("compliance/annex-iv/<int:pk>/export/", views.annex_iv_file, name="annex-iv-file"),
    path("compliance/pii/<int:pk>/scan/", views.pii_scan_start, name="pii-scan-start"),
    path("compliance/pii/<int:pk>/pseudonymise/", views.dataset_version_pseudonymise, name="pseudonymise"),
]

urlpatterns = api_urls + page_urls
