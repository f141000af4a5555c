#!/usr/bin/env bash
# Sets up, starts the embedded local stack, extracts the bundled sample contract, prints its clauses.
source "$(dirname "$0")/_env.sh"
exec .venv/bin/charmelio demo "$@"
