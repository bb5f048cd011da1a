#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <zmq.hpp>

#include "gateway/gateway_context.hpp"
#include "gateway/gateway_options.hpp"
#include "gateway/listener.hpp"

namespace deltastream::gateway {

// The gateway process: one I/O thread (Asio) for HTTP, WebSockets and the hub, one
// thread for ZeroMQ (reader_link), a small pool for blocking libpq work.
class gateway {
 public:
  explicit gateway(const gateway_options& options);
  ~gateway();

  // Serves until SIGTERM/SIGINT (or stop()): then closes WebSockets with 1001.
  void run();
  void stop();  // thread-safe
  // The first address listened on (all of them share its port).
  boost::asio::ip::tcp::endpoint endpoint() const { return listeners_.front()->local_endpoint(); }

 private:
  void listen();  // on every address of --server-host; throws config_error
  void schedule_housekeeping();  // liveness of streams, idle snapshots, lag samples
  void sample_lag();             // every slot's lag, into context_.lag

  const gateway_options& options_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // first: bad files stop us before anything starts
  boost::asio::io_context io_{1};
  boost::asio::thread_pool database_;
  zmq::context_t zmq_;
  stream_hub hub_;
  snapshot_store snapshots_;
  reader_link link_;
  gateway_context context_;
  std::vector<std::shared_ptr<listener>> listeners_;  // one per address
  boost::asio::steady_timer housekeeping_timer_;
  std::uint64_t housekeeping_rounds_ = 0;
};

}  // namespace deltastream::gateway
