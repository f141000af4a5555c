"""Storage clients every process shares: object storage (local or S3/MinIO) and Postgres."""

from charmelio.storage.objects import (
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    S3ObjectStore,
    open_object_store,
)

__all__ = [
    "LocalObjectStore",
    "ObjectNotFoundError",
    "ObjectStore",
    "S3ObjectStore",
    "open_object_store",
]
