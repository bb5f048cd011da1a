#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/access_control.hpp"
#include "gateway/lag_history.hpp"
#include "gateway/reader_link.hpp"
#include "gateway/refusal_log.hpp"
#include "gateway/snapshot_store.hpp"
#include "gateway/stream_hub.hpp"

namespace boost::asio::ssl {
class context;
}

namespace deltastream::gateway {

struct gateway_settings {
  std::string host = "localhost";
  unsigned short port = 12312;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 8 << 10;
  std::size_t max_frame_bytes = 64 << 10;      // largest message a client may send
  std::size_t max_queue_bytes = 64 << 20;      // per connection, waiting to be sent
  std::uint64_t max_page_rows = 100'000;
  std::chrono::seconds snapshot_idle_timeout{600};
  std::chrono::seconds http_timeout{30};
  std::size_t max_connections_per_client = 256;  // open at once from one address
  // The reader sends a heartbeat per stream every second; silence past this ends the
  // stream's connections so that they resume elsewhere or later.
  // 10 s, not less: a heartbeat queues behind a huge transaction's message (144 MB for
  // a million rows), and on a loaded machine that can take seconds to pass.
  std::chrono::milliseconds reader_silence_limit{10'000};
  int database_threads = 2;
  access_policy access;
  std::string tls_cert_file;  // both or neither: with them every connection is TLS
  std::string tls_key_file;
};

// What the gateway's parts share. Everything here lives as long as the gateway; the
// hub and `last_init_stream` are touched on the I/O thread only.
struct gateway_context {
  const gateway_settings& settings;
  boost::asio::io_context& io;
  boost::asio::thread_pool& database;  // blocking libpq work runs here
  reader_link& link;
  stream_hub& hub;
  snapshot_store& snapshots;
  boost::asio::ssl::context* tls;  // null: plain HTTP and WebSocket
  std::string last_init_stream;  // dropped by the next /v1/init, as pgdeltastream did
  std::string instance;          // random per process: names this gateway's consumers
  std::uint64_t consumers_started = 0;
  refusal_log refusals;          // refused requests' log lines, at a bounded rate
  lag_history lag;               // each slot's lag over the last 15 minutes (the console's)
};

}  // namespace deltastream::gateway
