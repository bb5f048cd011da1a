# PostgreSQL 15 for deploy/docker-compose.yml: the official image (Debian 12) plus
# wal2json, configured with deploy/postgresql.conf.d/deltastream.conf. Build context:
# the repository root.
FROM postgres:15-bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-15-wal2json \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/postgresql.conf.d/deltastream.conf /etc/postgresql/conf.d/deltastream.conf
# Run once, when the entrypoint creates the cluster: includes the directory above and
# creates the deltastream role.
COPY deploy/postgres-initdb.sh /docker-entrypoint-initdb.d/10-deltastream.sh
