#!/usr/bin/env bash
# Sets up, then lints, type-checks and runs every test against real components (Temporal dev
# server, Postgres, a local S3 server, worker processes). Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest -m "not faults" --cov=workflows --cov-report=term --cov-fail-under=95 "$@"
# The fault suite (tests/faults) on its own after the rest: its timing wants a quiet machine.
.venv/bin/pytest -m faults "$@"
