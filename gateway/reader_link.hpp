#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <zmq.hpp>

#include "common/curve_keys.hpp"
#include "proto/control_message.hpp"
#include "proto/data_frame.hpp"

namespace deltastream::gateway {

namespace net = boost::asio;

struct link_settings {
  std::string control_endpoint;
  std::string publish_endpoint;
  std::chrono::milliseconds call_timeout{10'000};
  // Bytes of frames handed to the I/O thread and not yet processed. Past it the link
  // stops reading the SUB socket, ZeroMQ's queue fills, and the reader stops reading
  // PostgreSQL: back pressure instead of unbounded memory.
  std::size_t max_inflight_bytes = 64 << 20;
  curve_settings curve;  // the SUB and DEALER are CURVE clients when it has a keypair
};

// The gateway's side of the reader protocol (proto/PROTOCOL.md). One thread owns the
// SUB and DEALER sockets (ZeroMQ sockets never cross threads); calls come in through a
// queue and an eventfd, replies and frames go out to the io_context with net::post.
class reader_link {
 public:
  using reply_handler = std::function<void(const proto::control_reply&)>;
  using frame_handler = std::function<void(const std::string& stream,
                                           const proto::frame_header& header,
                                           std::shared_ptr<const std::string> payload)>;

  reader_link(net::io_context& io, zmq::context_t& context, link_settings settings,
              frame_handler on_frame);
  ~reader_link();

  void start();
  void stop();

  // Thread-safe. The handler runs on the io_context, once: with the reply, or with
  // ok=false when the reader does not answer within call_timeout.
  void call(proto::control_request request, reply_handler handler);

  // For /metrics (any thread): frames received but not yet handed to the hub, and how
  // often the connection to the reader was lost.
  std::size_t inflight_bytes() const { return inflight_bytes_.load(); }
  std::uint64_t disconnects() const { return disconnects_.load(); }

 private:
  void run();
  void send_queued(zmq::socket_t& dealer);
  void receive_replies(zmq::socket_t& dealer);
  void receive_frames(zmq::socket_t& sub);
  void expire_calls();

  // One post per receive pass, up to this many frames, so that the I/O thread also
  // gets to write to its clients between batches.
  static constexpr std::size_t max_frames_per_post = 1024;
  void log_connection_event(zmq::socket_t& monitor);

  net::io_context& io_;
  zmq::context_t& context_;
  const link_settings settings_;
  frame_handler on_frame_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> inflight_bytes_{0};
  std::atomic<std::uint64_t> disconnects_{0};
  bool handshake_refused_ = false;  // link thread: say it once, not at every retry
  std::thread thread_;

  struct outgoing {
    proto::control_request request;
    reply_handler handler;
  };
  std::mutex mutex_;
  std::deque<outgoing> queue_;

  // Link thread only.
  struct pending_call {
    reply_handler handler;
    std::chrono::steady_clock::time_point deadline;
  };
  std::map<std::string, pending_call> pending_;
  std::uint64_t next_id_ = 1;
};

}  // namespace deltastream::gateway
