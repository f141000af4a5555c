#!/bin/sh
# Creates (first run) or upgrades (later runs) Temporal's main and visibility schemas on Postgres.
# Run by the one-shot `temporal-schema` service with the temporalio/admin-tools image; every step is
# idempotent, so it runs on each `docker compose up`. SQL_PASSWORD comes from the environment.
set -eu
: "${SQL_PASSWORD:?}"
HOST="${TEMPORAL_DB_HOST:-temporal-db}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

sql() {
    temporal-sql-tool --plugin postgres12 --ep "$HOST" -u temporal -p 5432 "$@"
}

for database in temporal temporal_visibility; do
    case "$database" in
        temporal) schema="$SCHEMA_DIR/temporal/versioned" ;;
        *) schema="$SCHEMA_DIR/visibility/versioned" ;;
    esac
    sql --db "$database" create-database || echo "database $database exists"
    # setup-schema -v 0.0 only creates the version table when it is missing.
    sql --db "$database" setup-schema -v 0.0
    sql --db "$database" update-schema -d "$schema"
done
echo "Temporal schemas are up to date"
