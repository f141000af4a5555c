"""Running the API process: uvicorn, JSON logs, graceful stop on SIGTERM."""

from __future__ import annotations

import uvicorn

from api_server._access_log import install_access_log_redaction
from api_server._app import create_app
from charmelio.logs import configure_logging
from charmelio.settings import Settings


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM, letting requests in flight finish within the grace period."""
    configure_logging(settings.log_level, pool="api")
    install_access_log_redaction()
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host or settings.api_host,
        port=port or settings.api_port,
        # Our JSON handler on the root logger formats uvicorn's lines too; the access log has the
        # method, path and status, never a header (so never the API key).
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None,
    )
