#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include <zmq.hpp>

#include "reader/control_server.hpp"
#include "reader/publisher.hpp"
#include "reader/reader_options.hpp"
#include "reader/stream_registry.hpp"
#include "reader/zap_authenticator.hpp"

namespace deltastream::reader {

// The reader process: one thread around one poll() over the control socket, the data
// socket (their ZMQ_FDs) and every libpq socket. Runs until `stop` becomes true.
class reader_service {
 public:
  reader_service(zmq::context_t& context, const reader_options& options);

  void run(const std::atomic<bool>& stop);

  std::string control_endpoint() const { return control_.endpoint(); }
  std::string publish_endpoint() const { return publisher_.endpoint(); }

 private:
  void serve_control_requests();

  // How soon a message that the subscribers refused (high-water mark) is offered again.
  static constexpr std::chrono::milliseconds publish_retry_interval{1};
  // Loop iterations that published between two looks at the XPUB's subscription notices.
  static constexpr int publisher_check_interval = 64;

  const reader_options& options_;
  std::unique_ptr<zap_authenticator> zap_;  // with CURVE; outlives the sockets it checks
  publisher publisher_;
  control_server control_;
  stream_registry registry_;
  bool replied_later_ = false;  // the registry answered a control request from step()
};

}  // namespace deltastream::reader
