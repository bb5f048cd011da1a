#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <zmq.hpp>

#include "common/curve_keys.hpp"
#include "proto/control_client.hpp"
#include "proto/control_message.hpp"
#include "proto/data_frame.hpp"

namespace deltastream::gateway {

namespace net = boost::asio;

// The reader's endpoints, call timeout and CURVE keys, as every tool has them.
using link_settings = proto::reader_endpoints;

// The gateway's side of the reader protocol (proto/PROTOCOL.md). The SUB socket is read
// on the I/O thread, where its frames are used: handing each frame from a thread of its
// own cost a wake-up of that thread and one of the I/O thread. Its readiness comes through
// ZMQ_FD in the io_context. While the I/O thread is busy nothing is read, ZeroMQ's queue
// fills and the reader stops reading PostgreSQL: back pressure, with no queue in between.
// The DEALER (control calls) has a thread of its own, so that a call never waits for a
// burst of frames: calls come in through a queue and an eventfd, replies go out with
// net::post. ZeroMQ sockets never cross threads.
class reader_link {
 public:
  using reply_handler = std::function<void(const proto::control_reply&)>;
  using frame_handler = std::function<void(const std::string& stream,
                                           const proto::frame_header& header,
                                           std::shared_ptr<const std::string> payload)>;

  reader_link(net::io_context& io, zmq::context_t& context, link_settings settings,
              frame_handler on_frame);
  ~reader_link();

  // On the I/O thread (or before it runs, on the thread that will run it); stop() after.
  void start();
  void stop();

  // On the I/O thread: a subscription of the data socket that matches no frame, which the
  // reader sees arrive (control `attach` with `marker`): frames published after it reach
  // this gateway. Added before an attach, removed when its consumer leaves.
  void add_marker(const std::string& stream, const std::string& marker);
  void remove_marker(const std::string& stream, const std::string& marker);

  // Thread-safe. The handler runs on the io_context, once: with the reply, or with
  // ok=false when the reader does not answer within call_timeout.
  void call(proto::control_request request, reply_handler handler);

  // For /metrics (any thread): how often the connection to the reader was lost.
  std::uint64_t disconnects() const { return disconnects_.load(); }

 private:
  void run();
  void send_queued(zmq::socket_t& dealer);
  void receive_replies(zmq::socket_t& dealer);
  void expire_calls();
  void log_connection_event(zmq::socket_t& monitor);

  // The data path, on the I/O thread.
  void read_frames();
  void wait_for_frames();
  void deliver(std::vector<zmq::message_t>& parts);
  // Frames read in one pass, before the clients' writes get their turn.
  static constexpr std::size_t max_frames_per_pass = 256;

  net::io_context& io_;
  zmq::context_t& context_;
  const link_settings settings_;
  frame_handler on_frame_;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> disconnects_{0};
  bool handshake_refused_ = false;  // link thread: say it once, not at every retry
  bool warned_protocol_ = false;    // link thread: a reader of another release, said once
  std::thread thread_;

  // I/O thread only.
  std::optional<zmq::socket_t> sub_;
  std::optional<net::posix::stream_descriptor> sub_ready_;  // its ZMQ_FD: released, not closed

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
