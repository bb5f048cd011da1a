#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <zmq.hpp>

#include "common/curve_keys.hpp"
#include "proto/control_message.hpp"

namespace deltastream::proto {

// Where a tool finds the reader: the same flags and variables as the gateway's.
struct reader_endpoints {
  std::string control = "tcp://127.0.0.1:5590";
  std::string publish = "tcp://127.0.0.1:5591";
  curve_settings curve;  // CURVE client when it has a keypair
  std::chrono::milliseconds call_timeout{10'000};
};

// Configures a tool's socket to the reader: no linger, reconnect with backoff, CURVE.
void configure_reader_socket(zmq::socket_t& socket, const reader_endpoints& endpoints);

// A tool's DEALER on the reader's control endpoint. Replies are matched by id (the reader
// may answer out of order); a request that is not answered in time reopens the socket,
// since what a DEALER still queues is then unknown (proto/PROTOCOL.md).
class control_client {
 public:
  control_client(zmq::context_t& context, const reader_endpoints& endpoints);

  // Sends a request with a fresh id, which it returns.
  std::string send(control_request request);
  // The next reply within `timeout`, or nullopt.
  std::optional<control_reply> receive(std::chrono::milliseconds timeout);
  // send, then the reply with its id; throws reader_unreachable after call_timeout.
  control_reply call(control_request request);
  // Drops the socket and whatever it queued; replies to earlier requests never come.
  void reopen();

  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::context_t& context_;
  const reader_endpoints& endpoints_;
  zmq::socket_t socket_;
  std::uint64_t next_id_ = 1;
};

struct reader_unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace deltastream::proto
