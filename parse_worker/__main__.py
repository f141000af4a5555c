"""`python -m parse_worker`: one process of the parse pool, as `charmelio worker parse` runs it."""

import sys

from charmelio.stages import PoolName
from charmelio.worker_runtime import run_pool
from parse_worker.worker import pool_spec

sys.exit(run_pool(PoolName.PARSE, pool_spec))
