"""The store stage: persists extraction results and failures to Postgres and object storage."""

from store_worker.activities import StoreActivities, activities_for

__all__ = ["StoreActivities", "activities_for"]
