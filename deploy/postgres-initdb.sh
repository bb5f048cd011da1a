#!/usr/bin/env bash
# The official postgres image runs this once, on a new cluster, with a temporary server
# on its Unix socket (deploy/postgres.Dockerfile copies it to /docker-entrypoint-initdb.d).
# The entrypoint restarts the server afterwards, so wal_level = logical from the included
# fragment is in force when deltastream connects.
set -euo pipefail
echo "include_dir = '/etc/postgresql/conf.d'" >>"$PGDATA/postgresql.conf"
# deltastream's own role, not the superuser: REPLICATION for slots and streaming,
# pg_read_all_data for snapshot pages of any table.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$DELTASTREAM_PASSWORD" <<'SQL'
CREATE ROLE deltastream LOGIN REPLICATION PASSWORD :'password';
GRANT pg_read_all_data TO deltastream;
SQL
