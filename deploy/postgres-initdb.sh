#!/usr/bin/env bash
# The PostgreSQL image's command (deploy/postgres.Dockerfile installs it as
# deltastream-postgres). On a new volume it creates the cluster once: the superuser
# POSTGRES_USER with POSTGRES_PASSWORD, the database POSTGRES_DB, the fragment
# /etc/postgresql/conf.d included (wal_level = logical …), password logins over TCP, and
# the deltastream role with DELTASTREAM_PASSWORD. Then it runs the server in the
# foreground. While it sets up, a temporary server listens on the Unix socket only, so a
# TCP health check (pg_isready --host 127.0.0.1) passes only for the server that stays.
set -euo pipefail
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}" "${DELTASTREAM_PASSWORD:?set DELTASTREAM_PASSWORD}"
export POSTGRES_USER POSTGRES_DB

# Started as root (the default): make the data and socket directories the postgres
# user's (a new volume may be root's), then run as postgres.
if [ "$(id -u)" -eq 0 ]; then
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  install -d -o postgres -g postgres -m 2775 /var/run/postgresql
  exec runuser -u postgres -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
         --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
         -D "$PGDATA"
  {
    echo "include_dir = '/etc/postgresql/conf.d'"
    echo "listen_addresses = '*'"
    # Builds of PostgreSQL that have this setting take only the output plugins it lists.
    if postgres --describe-config | grep -q '^output_plugin_libraries'; then
      echo "output_plugin_libraries = 'pgoutput, test_decoding, wal2json'"
    fi
  } >>"$PGDATA/postgresql.conf"
  # Logical replication connections name their database, so "all" covers them.
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  if [ "$POSTGRES_DB" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
      -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  # deltastream's own role, not the superuser: REPLICATION for slots and streaming,
  # pg_read_all_data for snapshot pages of any table.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$DELTASTREAM_PASSWORD" <<'SQL'
CREATE ROLE deltastream LOGIN REPLICATION PASSWORD :'password';
GRANT pg_read_all_data TO deltastream;
SQL
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec postgres -D "$PGDATA"
