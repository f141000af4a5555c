"""`python -m store_worker`: one process of the store pool, as `charmelio worker store` runs it."""

from charmelio.stages import PoolName
from charmelio.worker_runtime import exit_process, run_pool
from store_worker.worker import pool_spec

exit_process(run_pool(PoolName.STORE, pool_spec))
