"""`python -m llm_worker`: one process of the llm pool, as `charmelio worker llm` runs it."""

from charmelio.stages import PoolName
from charmelio.worker_runtime import exit_process, run_pool
from llm_worker.worker import pool_spec

exit_process(run_pool(PoolName.LLM, pool_spec))
