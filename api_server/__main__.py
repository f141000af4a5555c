"""`python -m api_server [--host H] [--port P]`: the API process, as `charmelio api` runs it."""

import argparse
import sys

from api_server.server import serve
from charmelio.settings import ConfigurationError, load_settings
from charmelio.worker_runtime import exit_process

parser = argparse.ArgumentParser(prog="python -m api_server", description=__doc__)
parser.add_argument("--host", help="interface to bind (default: CHARMELIO_API_HOST)")
parser.add_argument("--port", type=int, help="port (default: CHARMELIO_API_PORT)")
args = parser.parse_args()
try:
    serve(load_settings(), host=args.host, port=args.port)
except ConfigurationError as exc:
    print(f"charmelio api: configuration error: {exc}", file=sys.stderr)
    exit_process(2)
exit_process(0)
