"""The HTTP API and the results viewer: upload, follow, read and list extractions.

`charmelio api` runs it with uvicorn; `charmelio dev` starts one next to the worker pools. See
docs/api.md for the endpoints, the extraction states, the error codes and auth.
"""

from api_server._app import create_app
from api_server.server import serve

__all__ = ["create_app", "serve"]
