"""`python -m store_worker`: one process of the store pool, as `charmelio worker store` runs it."""

import sys

from charmelio.stages import PoolName
from charmelio.worker_runtime import run_pool
from store_worker.worker import pool_spec

sys.exit(run_pool(PoolName.STORE, pool_spec))
