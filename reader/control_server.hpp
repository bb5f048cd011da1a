#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/curve_keys.hpp"

namespace deltastream::reader {

// The control channel: a ROUTER socket. A request is [routing frames...][JSON body];
// the reply goes back with the same routing frames, so DEALER (with or without an
// empty delimiter) and REQ clients both work. Replies may be sent later by ticket.
class control_server {
 public:
  // With `curve`, a CURVE server (clients checked by the ZAP handler).
  control_server(zmq::context_t& context, const std::string& endpoint,
                 const std::optional<curve_keypair>& curve);

  struct request {
    std::uint64_t ticket;
    std::string body;
  };
  // Next request without blocking; nullopt when none is waiting.
  std::optional<request> receive();
  void reply(std::uint64_t ticket, const std::string& body);

  zmq::socket_t& socket() { return socket_; }
  std::string endpoint() const;

 private:
  zmq::socket_t socket_;
  std::uint64_t next_ticket_ = 1;
  std::map<std::uint64_t, std::vector<zmq::message_t>> envelopes_;
};

}  // namespace deltastream::reader
