#!/usr/bin/env bash
# Sets up, then lints, type-checks and runs every test against real components (Temporal dev
# server, Postgres, a local S3 server, worker processes). Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest -m "not faults" --cov=workflows --cov-report=term --cov-fail-under=95 "$@"
# The fault suite kills processes at moments chosen by timing; one known-rare mistiming makes it
# fail without any fault in the product (see the closing note). A second failure is a real one.
.venv/bin/pytest -m faults "$@" || {
    echo "fault suite failed; running it once more to tell a mistimed kill from a real failure" >&2
    .venv/bin/pytest -m faults "$@"
}
