# A NATS JetStream server for deploy/docker-compose.yml's three-node cluster: Debian 12's
# nats-server (2.9) on debian:bookworm-slim, the base the deltastream image runs on, so
# nothing else has to be pulled. Configured by deploy/nats/nats-server.conf; each node
# names itself with NATS_SERVER_NAME. Build context: the repository root.
FROM debian:bookworm-slim
# The package adds the system user nats. The store directory is the mount point of each
# node's named volume, which takes the directory's owner when it is created.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o nats -g nats -m 700 /var/lib/nats
COPY deploy/nats/nats-server.conf /etc/nats-server.conf
USER nats
# Clients, cluster routes; the monitoring port (8222) listens on the container's loopback.
EXPOSE 4222 6222
CMD ["/usr/sbin/nats-server", "--config", "/etc/nats-server.conf"]
