#!/bin/sh
# One-shot (temporalio/admin-tools): creates the Temporal, visibility and shipsync databases when missing and
# brings the Temporal schemas to the version the admin-tools image ships. Safe to run on every `up`.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
: "${DB_PORT:=5432}" "${DBNAME:=temporal}" "${VISIBILITY_DBNAME:=temporal_visibility}"
: "${SHIPSYNC_DBNAME:=shipsync}" "${SCHEMA_DIR:=/etc/temporal/schema/postgresql/v12}"
# temporal-sql-tool reads the password from SQL_PASSWORD, which keeps it out of the process list.
export SQL_PASSWORD="$POSTGRES_PWD"

tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" --port "$DB_PORT" --user "$POSTGRES_USER" "$@"
}

for db in "$DBNAME" "$VISIBILITY_DBNAME" "$SHIPSYNC_DBNAME"; do
  # CREATE DATABASE has no IF NOT EXISTS; a failure here is an existing database (the next steps fail loudly
  # on anything else, such as a wrong password).
  if tool --db "$db" create >/dev/null 2>&1; then echo "created database $db"; else echo "database $db exists"; fi
done
tool --db "$DBNAME" setup-schema -v 0.0
tool --db "$DBNAME" update-schema -d "$SCHEMA_DIR/temporal/versioned"
tool --db "$VISIBILITY_DBNAME" setup-schema -v 0.0
tool --db "$VISIBILITY_DBNAME" update-schema -d "$SCHEMA_DIR/visibility/versioned"
echo "schemas of $DBNAME and $VISIBILITY_DBNAME are current"
