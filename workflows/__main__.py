"""`python -m workflows`: one workflow-pool process, as `charmelio worker workflow` runs it."""

import sys

from charmelio.stages import PoolName
from charmelio.worker_runtime import run_pool
from workflows.worker import pool_spec

sys.exit(run_pool(PoolName.WORKFLOW, pool_spec))
