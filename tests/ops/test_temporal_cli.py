"""The `temporal` CLI commands docs/operations.md gives Ops do what it says, on a real server."""

from __future__ import annotations

import subprocess
import uuid

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue as TaskQueueRef
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.conftest import temporal_binary


def temporal(client: Client, *args: str) -> subprocess.CompletedProcess[str]:
    address = client.service_client.config.target_host
    return subprocess.run(
        [temporal_binary(), *args, "--address", address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def queue_rate_limit(client: Client, queue: str) -> float | None:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueueRef(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            report_config=True,
        )
    )
    if not response.config.HasField("queue_rate_limit"):
        return None
    return response.config.queue_rate_limit.rate_limit.requests_per_second


async def test_ops_set_and_unset_a_queue_wide_rate_limit(temporal_client: Client) -> None:
    queue = f"llm-queue-{uuid.uuid4().hex[:8]}"
    command = ["task-queue", "config", "set", "--task-queue", queue, "--task-queue-type"]
    done = temporal(
        temporal_client,
        *command,
        "activity",
        "--queue-rps-limit",
        "2",
        "--queue-rps-limit-reason",
        "provider tier",
    )
    assert done.returncode == 0, done.stderr
    assert await queue_rate_limit(temporal_client, queue) == 2

    shown = temporal(
        temporal_client,
        "task-queue",
        "config",
        "get",
        "--task-queue",
        queue,
        "--task-queue-type",
        "activity",
    )
    assert shown.returncode == 0, shown.stderr
    assert "provider tier" in shown.stdout

    unset = temporal(temporal_client, *command, "activity", "--queue-rps-limit", "default")
    assert unset.returncode == 0, unset.stderr
    assert await queue_rate_limit(temporal_client, queue) in (None, 0)
