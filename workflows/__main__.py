"""`python -m workflows`: one workflow-pool process, as `charmelio worker workflow` runs it."""

from charmelio.stages import PoolName
from charmelio.worker_runtime import exit_process, run_pool
from workflows.worker import pool_spec

exit_process(run_pool(PoolName.WORKFLOW, pool_spec))
