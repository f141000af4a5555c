"""/health (the process answers) and /ready (Temporal, Postgres and object storage answer).

Neither needs the API key: orchestrators probe them. /ready tells which dependency is down by name
and exception type only, never a connection string or credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api_server._models import DependencyCheck, Health, Readiness
from api_server._problems import ApiProblem
from api_server._services import Services, get_services

router = APIRouter(tags=["health"])

_PROBE_SECONDS = 3.0
# Any valid key: only whether the store answers matters, not whether the object exists.
_PROBE_KEY = "charmelio-ready-probe"


@router.get("/health", summary="The API process is alive")
async def health() -> Health:
    return Health()


async def _check(probe: Callable[[], Awaitable[object]]) -> DependencyCheck:
    try:
        async with asyncio.timeout(_PROBE_SECONDS):
            answer = await probe()
    except TimeoutError:
        return DependencyCheck(ok=False, detail=f"no answer within {_PROBE_SECONDS:g} s")
    except ApiProblem as problem:
        return DependencyCheck(ok=False, detail=problem.detail)
    except Exception as exc:
        return DependencyCheck(ok=False, detail=f"unreachable ({type(exc).__name__})")
    if answer is False:
        return DependencyCheck(ok=False, detail="reported not serving")
    return DependencyCheck(ok=True, detail="ok")


@router.get(
    "/ready",
    summary="Temporal, Postgres and object storage are reachable",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not reachable"}},
)
async def ready(services: Annotated[Services, Depends(get_services)]) -> JSONResponse:
    async def temporal() -> bool:
        return await services.temporal.service_client.check_health(
            timeout=timedelta(seconds=_PROBE_SECONDS)
        )

    async def database() -> object:
        def select_one() -> object:
            with services.pool.connection(timeout=_PROBE_SECONDS) as conn:
                return conn.execute("SELECT 1").fetchone()

        return await services.blocking(select_one)

    async def object_storage() -> bool:
        await services.storage(lambda store: store.exists(_PROBE_KEY))
        return True

    names = ("temporal", "database", "object_storage")
    results = await asyncio.gather(
        *(_check(probe) for probe in (temporal, database, object_storage))
    )
    checks = dict(zip(names, results, strict=True))
    ok = all(check.ok for check in checks.values())
    body = Readiness(status="ready" if ok else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ok else 503)
