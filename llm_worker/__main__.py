"""`python -m llm_worker`: one process of the llm pool, as `charmelio worker llm` runs it."""

import sys

from charmelio.stages import PoolName
from charmelio.worker_runtime import run_pool
from llm_worker.worker import pool_spec

sys.exit(run_pool(PoolName.LLM, pool_spec))
