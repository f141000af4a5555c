"""Object storage behind one small interface: a local directory (the embedded default) or S3/MinIO.

Layout (see `charmelio.contract.ObjectKeys`), all in one bucket or directory:

    documents/<document_id>.pdf                      uploaded PDFs, content-addressed ids
    parsed/<document_id>/pages.json                  page texts from parse_pdf (claim check)
    work/<extraction_id>/extraction.json             llm_extract's result, read by store_results
    extractions/<document_id>/<extraction_id>.json   the stored result artifact
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import urllib3

from charmelio.errors import StorageUnavailableError
from charmelio.settings import Settings

if TYPE_CHECKING:
    from minio import Minio

_BINARY = "application/octet-stream"
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")

# Temporal is the one retry layer: an unreachable object store fails the attempt at once, and the
# next attempt waits long enough that parse's 2 attempts (and llm's and store's 3) outlast an outage
# of about 20 s, such as a MinIO restart.
S3_UNAVAILABLE_RETRY_DELAY = timedelta(seconds=25)
_S3_TIMEOUT = urllib3.Timeout(connect=5, read=60)


class ObjectNotFoundError(KeyError):
    """No object under that key."""


def check_key(key: str) -> str:
    """Refuse keys that could escape the bucket or directory (``..``, absolute paths, odd bytes)."""
    if not _KEY.fullmatch(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key {key[:120]!r}")
    return key


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list_keys(self, prefix: str) -> Iterator[str]: ...
    def describe(self) -> str: ...


class LocalObjectStore:
    """Objects as files below one directory. Writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()

    def describe(self) -> str:
        return f"local:{self.root}"


@contextlib.contextmanager
def _s3_reachable(bucket: str) -> Iterator[None]:
    """Turn a refused, dropped or timed-out S3 connection into a retryable typed error."""
    try:
        yield
    except (urllib3.exceptions.HTTPError, ConnectionError) as exc:
        raise StorageUnavailableError(
            f"object storage (bucket {bucket}) is unreachable: {type(exc).__name__}",
            reason="object_storage_unavailable",
            next_retry_delay=S3_UNAVAILABLE_RETRY_DELAY,
        ) from None


def s3_http_client() -> urllib3.PoolManager:
    """The minio client's HTTP pool without its own retries (minio's default retries 5 times)."""
    return urllib3.PoolManager(timeout=_S3_TIMEOUT, maxsize=10, retries=False)


class S3ObjectStore:
    """Objects in one S3/MinIO bucket through the `minio` client. Creates the bucket if missing.

    Every call that reaches the network raises `StorageUnavailableError` when the endpoint cannot
    be reached, so the stages fail the attempt with a type Temporal retries.
    """

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ObjectStore:
        from minio import Minio

        if not (settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key):
            raise ValueError("S3 storage needs an endpoint, an access key and a secret key")
        endpoint, secure = settings.s3_endpoint, settings.s3_secure
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            endpoint, secure = parts.netloc, parts.scheme == "https"
        client = Minio(
            endpoint,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=secure,
            region=settings.s3_region,
            http_client=s3_http_client(),
        )
        return cls(client, settings.s3_bucket)

    def _reachable(self) -> contextlib.AbstractContextManager[None]:
        return _s3_reachable(self.bucket)

    def ensure_bucket(self) -> None:
        from minio.error import S3Error

        with self._reachable():
            if self.client.bucket_exists(self.bucket):
                return
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:  # another process created it between the check and the call
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def put_bytes(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        with self._reachable():
            self.client.put_object(
                self.bucket, check_key(key), io.BytesIO(data), len(data), content_type=content_type
            )

    def get_bytes(self, key: str) -> bytes:
        from minio.error import S3Error

        with self._reachable():
            try:
                response = self.client.get_object(self.bucket, check_key(key))
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject"):
                    raise ObjectNotFoundError(key) from None
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def exists(self, key: str) -> bool:
        from minio.error import S3Error

        with self._reachable():
            try:
                self.client.stat_object(self.bucket, check_key(key))
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                    return False
                raise
        return True

    def delete(self, key: str) -> None:
        with self._reachable():
            self.client.remove_object(self.bucket, check_key(key))

    def list_keys(self, prefix: str) -> Iterator[str]:
        # Listed in full before yielding: a connection lost midway fails the call, not the caller.
        with self._reachable():
            names = [
                item.object_name
                for item in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
                if item.object_name is not None
            ]
        yield from names

    def describe(self) -> str:
        return f"s3:{self.bucket}"


def open_object_store(settings: Settings) -> ObjectStore:
    if settings.storage_backend == "s3":
        store = S3ObjectStore.from_settings(settings)
        store.ensure_bucket()
        return store
    return LocalObjectStore(settings.storage_dir)
