#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

namespace deltastream::reader {

// ZAP, the ZeroMQ Authentication Protocol (RFC 27): once a CURVE client has proved that
// it holds the secret of its public key, libzmq asks the handler bound at
// inproc://zeromq.zap.01 whether that key may in.
//
// Request frames: version "1.0", request id, domain, address, routing id, mechanism,
// then the mechanism's credentials (CURVE: the client's 32-byte public key).
// Reply frames: version "1.0", request id, status code ("200" in, "400" refused, "500"
// malformed request), status text, user id (here the client's Z85 key), metadata.
struct zap_answer {
  std::vector<std::string> reply;
  bool accepted = false;
  std::string client_key;  // Z85; empty when the request carried no CURVE key
  std::string address;     // the client's IP address
};
zap_answer answer_zap_request(const std::vector<std::string>& request,
                              const std::set<std::string>& authorized_keys);

// The handler: its own thread and REP socket (ZeroMQ sockets never cross threads), not
// the reader's poll loop, so that handshakes do not wait while the loop sits in a slow
// libpq call (creating a slot waits for running transactions). Construct it before the
// CURVE sockets bind and destroy it after they close: a CURVE server with no handler
// bound lets every client in, so if the handler fails the process aborts.
class zap_authenticator {
 public:
  zap_authenticator(zmq::context_t& context, const std::vector<std::string>& authorized_keys);
  ~zap_authenticator();
  zap_authenticator(const zap_authenticator&) = delete;
  zap_authenticator& operator=(const zap_authenticator&) = delete;

 private:
  void run(zmq::socket_t& socket);
  void serve(zmq::socket_t& socket);
  [[noreturn]] void fail(const char* what);
  void log(const zap_answer& answer);

  const std::set<std::string> authorized_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  // ZAP thread only. A refused client retries every reconnect interval: each key's
  // refusal is logged at most once a minute, with the count of attempts in between.
  struct refusal {
    std::chrono::steady_clock::time_point logged;
    std::uint64_t unlogged = 0;
  };
  std::map<std::string, refusal> refusals_;
};

}  // namespace deltastream::reader
