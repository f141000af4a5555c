"""Optional API-key auth: with CHARMELIO_API_KEY set, every /api route requires the key.

The key comes in `X-API-Key: <key>` or `Authorization: Bearer <key>`, and is compared in constant
time. It is never logged: the access log holds the method and path only, and a refusal says only
that the key was missing or wrong.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from api_server._problems import ApiProblem, ErrorCode

_api_key_header = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False)
_bearer = HTTPBearer(scheme_name="Bearer", auto_error=False)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="charmelio"'}


def api_key_guard(key: SecretStr) -> Callable[..., Awaitable[None]]:
    """A dependency that refuses requests without the key (declared in the OpenAPI schema)."""
    expected = key.get_secret_value().encode()

    async def require_api_key(
        api_key: Annotated[str | None, Security(_api_key_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> None:
        presented = api_key if api_key is not None else (bearer.credentials if bearer else None)
        if presented is None:
            raise ApiProblem(
                ErrorCode.UNAUTHORIZED,
                "an API key is required: send X-API-Key or Authorization: Bearer",
                headers=_CHALLENGE,
            )
        if not hmac.compare_digest(presented.encode(), expected):
            raise ApiProblem(ErrorCode.UNAUTHORIZED, "the API key is not valid", headers=_CHALLENGE)

    return require_api_key
