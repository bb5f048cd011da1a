# PostgreSQL 15 for deploy/docker-compose.yml: Debian 12's postgresql-15 and
# postgresql-15-wal2json on debian:bookworm (the image the deltastream image builds on,
# so nothing else has to be pulled), configured with deploy/postgresql.conf.d/deltastream.conf.
# Build context: the repository root. Its settings are the official postgres image's
# names: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, and DELTASTREAM_PASSWORD for the
# deltastream role (deploy/postgres-initdb.sh).
FROM debian:bookworm
# Debian's package creates and starts a cluster of its own on installation; this image
# creates one in $PGDATA on first start instead.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
 && sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql-15 postgresql-15-wal2json \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY deploy/postgresql.conf.d/deltastream.conf /etc/postgresql/conf.d/deltastream.conf
COPY deploy/postgres-initdb.sh /usr/local/bin/deltastream-postgres
EXPOSE 5432
STOPSIGNAL SIGINT
CMD ["deltastream-postgres"]
