from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from governance.permissions import role_permission, user_has_role
from governance.roles import ADMIN
from governance.api_lists import CreatedRangeInput, id_filter, list_filters, ordering_field
from governance.jobs import selectors
from governance.jobs.models import Job, JobStatus


class JobOutput(serializers.ModelSerializer):
    elapsed_s = serializers.FloatField(read_only=True, allow_null=True)  # null until the job starts

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "stage", "percent", "detail", "error", "attempts", "subject_type",
                  "subject_id", "created_at", "started_at", "heartbeat_at", "finished_at", "elapsed_s"]


class JobFilterInput(CreatedRangeInput):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    kind = serializers.CharField(max_length=40, required=False)
    subject_type = serializers.CharField(max_length=80, required=False, help_text="e.g. audits.audit")
    subject_id = id_filter("The subject's id (with subject_type).")
    min_attempts = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False,
                                            help_text="Only jobs redelivered at least this often.")
    ordering = ordering_field(*selectors.JOB_ORDERING, default="-created_at")


class JobListApi(generics.ListAPIView):
    permission_classes = [role_permission()]
    serializer_class = JobOutput

    @extend_schema(parameters=[JobFilterInput])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.job_list(user=self.request.user, filters=list_filters(JobFilterInput, self.request),
                                  include_unlisted=user_has_role(self.request.user, ADMIN))


class JobDetailApi(generics.RetrieveAPIView):
    permission_classes = [role_permission()]
    serializer_class = JobOutput

    def get_queryset(self):
        return selectors.job_list(user=self.request.user, include_unlisted=True)
