#include "gateway/reader_link.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <boost/asio/post.hpp>
#include <zmq_addon.hpp>

#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::gateway {

reader_link::reader_link(net::io_context& io, zmq::context_t& context, link_settings settings,
                         frame_handler on_frame)
    : io_(io), context_(context), settings_(std::move(settings)), on_frame_(std::move(on_frame)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
}

reader_link::~reader_link() {
  stop();
  close(wake_fd_);
}

void reader_link::start() { thread_ = std::thread([this] { run(); }); }

void reader_link::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  const std::uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void reader_link::call(proto::control_request request, reply_handler handler) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(request), std::move(handler)});
  }
  const std::uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void reader_link::run() {
  auto log = module_logger("link");
  zmq::socket_t dealer(context_, zmq::socket_type::dealer);
  zmq::socket_t sub(context_, zmq::socket_type::sub);
  for (auto* socket : {&dealer, &sub}) {
    socket->set(zmq::sockopt::linger, 0);
    // ZeroMQ reconnects by itself when the reader goes away; back off up to 5 s.
    socket->set(zmq::sockopt::reconnect_ivl, 100);
    socket->set(zmq::sockopt::reconnect_ivl_max, 5000);
    if (settings_.curve.enabled()) {
      make_curve_client(*socket, *settings_.curve.keypair, settings_.curve.server_key);
    }
  }
  // Connection events of the control socket, so that the log says when the reader
  // went away and when it came back.
  zmq_socket_monitor(dealer.handle(), "inproc://deltastream-link-monitor",
                     ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                         ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  zmq::socket_t monitor(context_, zmq::socket_type::pair);
  monitor.connect("inproc://deltastream-link-monitor");
  // Every stream: a consumer's first frames must not race its subscription.
  sub.set(zmq::sockopt::subscribe, "");
  dealer.connect(settings_.control_endpoint);
  sub.connect(settings_.publish_endpoint);
  log->info("reader control {}, data {}{}", settings_.control_endpoint, settings_.publish_endpoint,
            settings_.curve.enabled() ? " (CURVE)" : "");
  for (const auto* endpoint : {&settings_.control_endpoint, &settings_.publish_endpoint}) {
    if (settings_.curve.enabled() || is_local_endpoint(*endpoint)) continue;
    log->warn("{} is on another machine and CURVE is off: the ZeroMQ hop is unauthenticated "
              "and unencrypted (see --curve-secret-key)", *endpoint);
  }

  while (!stopping_) {
    const bool sub_open = inflight_bytes_.load() < settings_.max_inflight_bytes;
    zmq_pollitem_t items[] = {
        {dealer.handle(), 0, ZMQ_POLLIN, 0},
        {sub.handle(), 0, static_cast<short>(sub_open ? ZMQ_POLLIN : 0), 0},
        {nullptr, wake_fd_, ZMQ_POLLIN, 0},
        {monitor.handle(), 0, ZMQ_POLLIN, 0},
    };
    // While the I/O thread is behind, look again soon instead of reading more.
    const long timeout = sub_open ? 200 : 5;
    if (zmq_poll(items, 4, timeout) < 0) {
      if (errno == EINTR) continue;
      log->error("zmq_poll: {}", zmq_strerror(errno));
      break;
    }
    if (items[2].revents & ZMQ_POLLIN) {
      std::uint64_t count;
      (void)!read(wake_fd_, &count, sizeof count);
    }
    send_queued(dealer);
    if (items[0].revents & ZMQ_POLLIN) receive_replies(dealer);
    if (items[1].revents & ZMQ_POLLIN) receive_frames(sub);
    if (items[3].revents & ZMQ_POLLIN) log_connection_event(monitor);
    expire_calls();
  }
  zmq_socket_monitor(dealer.handle(), nullptr, 0);
}

void reader_link::log_connection_event(zmq::socket_t& monitor) {
  // A monitor event is two frames: u16 event, u32 value; then the endpoint.
  std::vector<zmq::message_t> parts;
  if (!zmq::recv_multipart(monitor, std::back_inserter(parts), zmq::recv_flags::dontwait) ||
      parts.size() != 2 || parts[0].size() < 2) {
    return;
  }
  std::uint16_t event;
  std::memcpy(&event, parts[0].data(), sizeof event);
  auto log = module_logger("link");
  if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
    if (handshake_refused_) {
      log->info("connected to the reader at {}: handshake accepted", parts[1].to_string_view());
    }
    handshake_refused_ = false;
  } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    if (!handshake_refused_) {
      log->error("the reader at {} refused the handshake: CURVE on one side only, or this "
                 "gateway's public key is not in its --curve-authorized-keys; retrying",
                 parts[1].to_string_view());
    }
    handshake_refused_ = true;
  } else if (handshake_refused_) {
    return;  // the connect/disconnect of each refused retry
  } else if (event == ZMQ_EVENT_CONNECTED) {
    log->info("connected to the reader at {}", parts[1].to_string_view());
  } else if (event == ZMQ_EVENT_DISCONNECTED) {
    ++disconnects_;
    log->warn("lost the reader at {}; reconnecting (backoff up to 5 s)", parts[1].to_string_view());
  }
}

void reader_link::send_queued(zmq::socket_t& dealer) {
  std::deque<outgoing> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(queue_);
  }
  for (auto& item : batch) {
    item.request.id = std::to_string(next_id_++);
    const auto body = proto::encode_control_request(item.request);
    // A DEALER queues while the reader is away; the deadline bounds the wait.
    if (!dealer.send(zmq::buffer(body), zmq::send_flags::dontwait)) {
      proto::control_reply failed;
      failed.error = "the reader's control queue is full";
      net::post(io_, [handler = std::move(item.handler), failed] { handler(failed); });
      continue;
    }
    pending_[item.request.id] = {std::move(item.handler),
                                 std::chrono::steady_clock::now() + settings_.call_timeout};
  }
}

void reader_link::receive_replies(zmq::socket_t& dealer) {
  zmq::message_t message;
  while (dealer.recv(message, zmq::recv_flags::dontwait)) {
    if (message.more()) continue;  // not ours: replies are single frames
    auto reply = proto::decode_control_reply(message.to_string_view());
    auto found = pending_.find(reply.id);
    if (found == pending_.end()) continue;  // answered after its deadline
    net::post(io_, [handler = std::move(found->second.handler), reply = std::move(reply)] {
      handler(reply);
    });
    pending_.erase(found);
  }
}

void reader_link::receive_frames(zmq::socket_t& sub) {
  // Everything read in one pass goes to the I/O thread in one post: a post is an
  // eventfd write and an io_context wake-up, which cost more than a small message.
  struct received_frame {
    std::string stream;
    proto::frame_header header;
    std::shared_ptr<const std::string> payload;
    std::size_t bytes;
  };
  std::vector<received_frame> batch;
  // Counted before the post and as each frame is read, so that the pass stops at the
  // bound: the bytes in flight never exceed it by more than one frame.
  while (batch.size() < max_frames_per_post && inflight_bytes_.load() < settings_.max_inflight_bytes) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(sub, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
    try {
      if (parts.size() != 3) {
        throw protocol_error("expected 3 frames, got " + std::to_string(parts.size()));
      }
      std::string stream(proto::stream_of_topic(parts[0].to_string_view()));
      const auto header = proto::decode_header(
          {static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()});
      auto payload = std::make_shared<const std::string>(parts[2].to_string());
      const std::size_t bytes = payload->size() + 64;
      inflight_bytes_ += bytes;
      batch.push_back({std::move(stream), header, std::move(payload), bytes});
    } catch (const protocol_error& error) {
      module_logger("link")->warn("dropped a malformed frame from the reader: {}", error.what());
    }
  }
  if (batch.empty()) return;
  net::post(io_, [this, batch = std::move(batch)]() mutable {
    for (auto& frame : batch) {
      on_frame_(frame.stream, frame.header, std::move(frame.payload));
      inflight_bytes_ -= frame.bytes;
    }
  });
}

void reader_link::expire_calls() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    proto::control_reply failed;
    failed.error = "the reader did not answer within " +
                   std::to_string(settings_.call_timeout.count()) + " ms";
    net::post(io_, [handler = std::move(it->second.handler), failed] { handler(failed); });
    it = pending_.erase(it);
  }
}

}  // namespace deltastream::gateway
