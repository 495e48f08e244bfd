from __future__ import annotations

from django.db.models import Count, Max, QuerySet

from governance.datasets.models import Dataset, DatasetRecord, DatasetVersion


def dataset_list() -> QuerySet[Dataset]:
    return (Dataset.objects.select_related("owner")
            .annotate(version_count=Count("versions"), latest_version=Max("versions__version")))


def dataset_version_list() -> QuerySet[DatasetVersion]:
    return DatasetVersion.objects.select_related("dataset", "created_by").order_by("-created_at")


def dataset_version_get(*, version_id: int) -> DatasetVersion:
    return DatasetVersion.objects.select_related("dataset", "created_by", "parent").get(pk=version_id)


def records_of(*, version: DatasetVersion) -> QuerySet[DatasetRecord]:
    return DatasetRecord.objects.filter(version=version).order_by("row_index")


def training_rows(*, version: DatasetVersion) -> tuple[list[str], list[int], list[float]]:
    """(texts, label indices, weights) of a version, in row order."""
    index = {name: i for i, name in enumerate(version.label_names)}
    rows = records_of(version=version).values_list("text", "label", "weight")
    texts, labels, weights = [], [], []
    for text, label, weight in rows.iterator(chunk_size=5000):
        texts.append(text)
        labels.append(index[label])
        weights.append(weight)
    return texts, labels, weights
