"""The typed, retryable errors the fault suite relies on, each shown on its own in a second.

A refused S3 or Postgres connection must fail the attempt at once (no retry layer below
Temporal) with `StorageUnavailableError` and a `next_retry_delay` long enough that the stage's
attempts outlast a 20 s outage; the llm stage must heartbeat while its provider call blocks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from charmelio import stages
from charmelio.contract import ErrorType
from charmelio.errors import StorageUnavailableError
from charmelio.storage.objects import (
    S3_UNAVAILABLE_RETRY_DELAY,
    LocalObjectStore,
    open_object_store,
)
from llm_worker._heartbeat import HEARTBEAT_INTERVAL_SECONDS, call_heartbeating
from store_worker.activities import DATABASE_UNAVAILABLE_RETRY_DELAY, StoreActivities
from tests.conftest import s3_settings
from tests.faults.tcp_proxy import TcpProxy
from tests.faults.test_fault_suite import OUTAGE_SECONDS, _proxied_url, _upstream


def _span(attempts: int, delay_seconds: float) -> float:
    """How long `attempts` attempts, `delay_seconds` apart, keep trying after the first failure."""
    return (attempts - 1) * delay_seconds


def test_every_s3_call_fails_fast_and_typed_while_the_endpoint_refuses(s3_endpoint: str) -> None:
    with TcpProxy(*_upstream(s3_endpoint)) as proxy:
        settings = s3_settings(f"http://127.0.0.1:{proxy.port}")
        store = open_object_store(settings)
        store.put_bytes("documents/a.pdf", b"%PDF-1.7")
        with proxy.outage():
            calls: dict[str, Callable[[], object]] = {
                "put_bytes": lambda: store.put_bytes("documents/b.pdf", b"x"),
                "get_bytes": lambda: store.get_bytes("documents/a.pdf"),
                "exists": lambda: store.exists("documents/a.pdf"),
                "delete": lambda: store.delete("documents/a.pdf"),
                "list_keys": lambda: list(store.list_keys("documents/")),
            }
            for name, call in calls.items():
                started = time.monotonic()
                with pytest.raises(StorageUnavailableError) as raised:
                    call()
                assert time.monotonic() - started < 2, f"{name} retried below Temporal"
                assert raised.value.type == ErrorType.STORAGE_UNAVAILABLE.value
                assert raised.value.non_retryable is False
                assert raised.value.next_retry_delay == S3_UNAVAILABLE_RETRY_DELAY
        assert store.get_bytes("documents/a.pdf") == b"%PDF-1.7"


def test_each_stage_outlasts_an_object_storage_outage() -> None:
    delay = S3_UNAVAILABLE_RETRY_DELAY.total_seconds()
    for policy in (stages.PARSE.retry, stages.EXTRACT.retry, stages.STORE.retry):
        assert policy.maximum_attempts is not None
        assert _span(policy.maximum_attempts, delay) > OUTAGE_SECONDS
    assert ErrorType.STORAGE_UNAVAILABLE.value not in (
        stages.PARSE.retry.non_retryable_error_types or []
    )


def test_store_fails_typed_with_a_long_retry_delay_while_postgres_refuses(
    database_url: str, tmp_path: Path
) -> None:
    with TcpProxy(*_upstream(database_url)) as proxy:
        activities = StoreActivities(LocalObjectStore(tmp_path), _proxied_url(database_url, proxy))
        # `_connection` is the one door to Postgres of both store activities.
        with (
            proxy.outage(),
            pytest.raises(StorageUnavailableError) as raised,
            activities._connection(),
        ):
            pass
    assert raised.value.next_retry_delay == DATABASE_UNAVAILABLE_RETRY_DELAY
    assert raised.value.details[0]["reason"] == "database_unavailable"
    assert stages.STORE.retry.maximum_attempts is not None
    span = _span(stages.STORE.retry.maximum_attempts, DATABASE_UNAVAILABLE_RETRY_DELAY.seconds)
    assert span > OUTAGE_SECONDS


def test_a_blocking_call_is_heartbeated_with_its_latest_progress() -> None:
    beats: list[tuple[str, ...]] = []
    calling_thread = threading.current_thread().name

    def heartbeat(*details: str) -> None:
        beats.append((threading.current_thread().name, *details))

    def slow(on_progress: object) -> str:
        assert callable(on_progress)
        time.sleep(0.25)
        on_progress("chunk 2 of 2")
        time.sleep(0.25)
        return "done"

    assert call_heartbeating(slow, heartbeat, interval=0.1) == "done"
    messages = [beat[1] for beat in beats]
    assert {beat[0] for beat in beats} == {calling_thread}
    # Beats while blocked, the progress message at once, then it again while blocked.
    assert messages[0] == "calling provider"
    assert messages.count("chunk 2 of 2") >= 2
    assert messages[-1] == "chunk 2 of 2"
    # Several beats fit in the heartbeat timeout, so one late beat does not fail an attempt.
    assert stages.EXTRACT.heartbeat is not None
    assert stages.EXTRACT.heartbeat.total_seconds() >= 5 * HEARTBEAT_INTERVAL_SECONDS


def test_a_failing_call_raises_in_the_caller() -> None:
    def fails(_: object) -> None:
        raise StorageUnavailableError("down", reason="object_storage_unavailable")

    with pytest.raises(StorageUnavailableError):
        call_heartbeating(fails, lambda *_: None, interval=0.05)
