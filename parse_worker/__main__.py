"""`python -m parse_worker`: one process of the parse pool, as `charmelio worker parse` runs it."""

from charmelio.stages import PoolName
from charmelio.worker_runtime import exit_process, run_pool
from parse_worker.worker import pool_spec

exit_process(run_pool(PoolName.PARSE, pool_spec))
