"""What the routes talk to: Postgres (a connection pool), object storage and Temporal.

Every blocking call (psycopg, the object store) runs on a worker thread, never on the event loop,
and every way a dependency can be down becomes a 503 problem with that dependency's code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from anyio import to_thread
from fastapi import Request
from minio.error import MinioException
from psycopg_pool import ConnectionPool, PoolTimeout
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from api_server._problems import ApiProblem, ErrorCode
from charmelio.errors import StorageUnavailableError
from charmelio.settings import Settings
from charmelio.storage.objects import LocalObjectStore, ObjectStore, S3ObjectStore
from charmelio.worker_runtime import client_options

_log = logging.getLogger(__name__)

_T = TypeVar("_T")
Connection = psycopg.Connection[tuple[Any, ...]]

# How long a request waits for a free database connection before answering 503.
_POOL_WAIT_SECONDS = 5.0
# Errors that mean "object storage is unreachable or refused", as opposed to a missing key.
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    MinioException,
    Urllib3HTTPError,
    StorageUnavailableError,  # what S3ObjectStore raises for a refused or dropped connection
)
# RPC statuses that mean "Temporal is not answering" rather than "your request was wrong".
_UNAVAILABLE_RPC = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}


@dataclass
class Services:
    settings: Settings
    database_url: str
    pool: ConnectionPool[Connection]
    objects: ObjectStore
    temporal: Client

    async def blocking(self, work: Callable[[], _T]) -> _T:
        """Run blocking `work` on a worker thread; an unreachable store or database is a 503."""
        try:
            return await to_thread.run_sync(work)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            _log.warning("database unavailable: %s", type(exc).__name__)
            raise ApiProblem(ErrorCode.DATABASE_UNAVAILABLE, "the database is unavailable") from exc
        except STORAGE_ERRORS as exc:
            _log.warning("object storage unavailable: %s", type(exc).__name__)
            raise ApiProblem(
                ErrorCode.OBJECT_STORAGE_UNAVAILABLE, "object storage is unavailable"
            ) from exc

    async def database(self, work: Callable[[Connection], _T]) -> _T:
        """Run `work` with a pooled connection, in one transaction that commits on success."""

        def call() -> _T:
            with self.pool.connection() as conn:
                return work(conn)

        return await self.blocking(call)

    async def storage(self, work: Callable[[ObjectStore], _T]) -> _T:
        return await self.blocking(lambda: work(self.objects))

    @asynccontextmanager
    async def temporal_call(self) -> AsyncIterator[Client]:
        """Bound a block of Temporal calls in time and turn "Temporal is down" into a 503."""
        timeout = self.settings.api_temporal_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                yield self.temporal
        except TimeoutError as exc:
            raise _temporal_unavailable(f"Temporal did not answer within {timeout:g} s") from exc
        except RPCError as exc:
            if exc.status in _UNAVAILABLE_RPC:
                raise _temporal_unavailable("Temporal is unavailable") from exc
            raise
        except RuntimeError as exc:
            # A lazy client that cannot reach the server fails each call with this RuntimeError
            # (the SDK has no narrower type for it), and tries to connect again on the next call.
            if "Failed client connect" in str(exc):
                raise _temporal_unavailable("Temporal is unreachable") from exc
            raise


def _temporal_unavailable(detail: str) -> ApiProblem:
    _log.warning("%s", detail)
    return ApiProblem(ErrorCode.TEMPORAL_UNAVAILABLE, detail)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def open_database_pool(settings: Settings, database_url: str) -> ConnectionPool[Connection]:
    """A pool that starts empty and connects in the background, so a database that is down at
    start makes /ready say so instead of keeping the API from starting."""
    pool: ConnectionPool[Connection] = ConnectionPool(
        database_url,
        min_size=1,
        max_size=settings.api_database_pool_size,
        kwargs={"connect_timeout": 5, "autocommit": False},
        timeout=_POOL_WAIT_SECONDS,
        check=ConnectionPool.check_connection,
        open=False,
        name="charmelio-api",
    )
    pool.open(wait=False)
    return pool


def open_objects(settings: Settings) -> ObjectStore:
    if settings.storage_backend == "s3":
        store = S3ObjectStore.from_settings(settings)
        try:
            store.ensure_bucket()
        except STORAGE_ERRORS as exc:
            _log.warning("object storage unreachable at start (%s); /ready reports it", exc)
        return store
    return LocalObjectStore(settings.storage_dir)


async def open_services(settings: Settings, runtime: Runtime | None = None) -> Services:
    """``runtime`` carries the process's metrics (see `charmelio.metrics.telemetry_runtime`)."""
    database_url = settings.require_database_url()
    # Lazy: the API starts, and /health answers, while Temporal is still coming up.
    temporal = await Client.connect(
        settings.temporal_address, lazy=True, runtime=runtime, **client_options(settings)
    )
    objects = await to_thread.run_sync(open_objects, settings)
    pool = open_database_pool(settings, database_url)
    return Services(settings, database_url, pool, objects, temporal)


async def close_services(services: Services) -> None:
    await to_thread.run_sync(services.pool.close)
