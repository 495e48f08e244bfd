from __future__ import annotations

from rest_framework import generics, serializers

from governance.accounts.permissions import role_permission
from governance.jobs.models import Job


class JobOutput(serializers.ModelSerializer):
    elapsed_s = serializers.FloatField(read_only=True, allow_null=True)  # null until the job starts

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "stage", "percent", "detail", "error", "attempts", "subject_type",
                  "subject_id", "created_at", "started_at", "finished_at", "elapsed_s"]


class JobListApi(generics.ListAPIView):
    permission_classes = [role_permission()]
    serializer_class = JobOutput

    def get_queryset(self):
        qs = Job.objects.all()
        state = self.request.query_params.get("status")
        return qs.filter(status=state) if state else qs


class JobDetailApi(generics.RetrieveAPIView):
    permission_classes = [role_permission()]
    serializer_class = JobOutput
    queryset = Job.objects.all()
