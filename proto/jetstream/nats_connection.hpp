#pragma once

#include <atomic>
#include <stdexcept>
#include <string>

#include <nats/nats.h>

#include "proto/jetstream/jetstream_options.hpp"

namespace deltastream::jetstream {

// A NATS call failed: the status, nats.c's last error and JetStream's code when known.
struct nats_failure : std::runtime_error {
  nats_failure(const std::string& what, natsStatus status, jsErrCode code = static_cast<jsErrCode>(0));
  natsStatus status;
  jsErrCode code;
};

// One connection to a NATS cluster, shared by every stream's publisher (nats.c's
// connection is thread-safe). It reconnects by itself, forever, to any server of the
// list; publishes meanwhile wait in its reconnect buffer or fail, and a failed or
// unanswered publish makes its stream attach again from its last ACK.
class nats_connection {
 public:
  // Connects, retrying while no server answers: throws nats_failure only for what a
  // retry cannot fix (bad credentials file, TLS files).
  explicit nats_connection(const nats_settings& settings);
  ~nats_connection();
  nats_connection(const nats_connection&) = delete;
  nats_connection& operator=(const nats_connection&) = delete;

  natsConnection* get() const { return connection_; }
  // The largest message the servers take (their max_payload).
  std::int64_t max_payload() const { return natsConnection_GetMaxPayload(connection_); }

 private:
  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  std::atomic<bool> closing_{false};
};

// Creates the JetStream stream when it does not exist and settings.create says so;
// otherwise checks that it exists. Retries while JetStream is not ready (a cluster
// electing its leader) until `stop`.
void ensure_stream(nats_connection& connection, const jetstream_settings& settings, const std::atomic<bool>& stop);

}  // namespace deltastream::jetstream
