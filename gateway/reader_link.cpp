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

void reader_link::start() {
  sub_.emplace(context_, zmq::socket_type::sub);
  proto::configure_reader_socket(*sub_, settings_);
  // Every stream: a consumer's first frames must not race its subscription.
  sub_->set(zmq::sockopt::subscribe, "");
  sub_->connect(settings_.publish);
  sub_ready_.emplace(io_, sub_->get(zmq::sockopt::fd));
  read_frames();
  thread_ = std::thread([this] { run(); });
}

void reader_link::stop() {
  if (sub_ready_) {
    sub_ready_->release();  // the descriptor is ZeroMQ's, closed with the socket
    sub_ready_.reset();
    sub_.reset();
  }
  if (!thread_.joinable()) return;
  stopping_ = true;
  const std::uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void reader_link::add_marker(const std::string& stream, const std::string& marker) {
  if (sub_) sub_->set(zmq::sockopt::subscribe, proto::topic_for(stream) + marker);
}

void reader_link::remove_marker(const std::string& stream, const std::string& marker) {
  if (sub_) sub_->set(zmq::sockopt::unsubscribe, proto::topic_for(stream) + marker);
}

void reader_link::read_frames() {
  if (!sub_) return;
  for (std::size_t count = 0; count < max_frames_per_pass; ++count) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(*sub_, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
      // ZMQ_FD only signals new activity, so wait on it only once nothing is left. A
      // receive that finds nothing has just done what asking ZMQ_EVENTS would: libzmq
      // processes the socket's commands, down to an empty mailbox (which re-arms
      // ZMQ_FD), and tries again before it says EAGAIN. Asking as well cost every wake-up
      // a getpid and a poll.
      return wait_for_frames();
    }
    deliver(parts);
  }
  // More may be waiting: let the clients' writes run first.
  net::post(io_, [this] { read_frames(); });
}

void reader_link::wait_for_frames() {
  sub_ready_->async_wait(net::posix::descriptor_base::wait_read, [this](boost::system::error_code error) {
    if (error == net::error::operation_aborted) return;  // stop()
    // Any other failure of the wait: say so, and look at the socket anyway rather than
    // stop reading for good (read_frames waits again when nothing is there).
    if (error) module_logger("link")->warn("waiting for the reader's frames: {}", error.message());
    read_frames();
  });
}

void reader_link::deliver(std::vector<zmq::message_t>& parts) {
  try {
    if (parts.size() != 3) throw protocol_error("expected 3 frames, got " + std::to_string(parts.size()));
    const std::string stream(proto::stream_of_topic(parts[0].to_string_view()));
    const auto header =
        proto::decode_header({static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()});
    on_frame_(stream, header, std::make_shared<const std::string>(parts[2].to_string()));
  } catch (const protocol_error& error) {
    module_logger("link")->warn("dropped a malformed frame from the reader: {}", error.what());
  }
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
  proto::configure_reader_socket(dealer, settings_);
  // Connection events of the control socket, so that the log says when the reader
  // went away and when it came back.
  zmq_socket_monitor(dealer.handle(), "inproc://deltastream-link-monitor",
                     ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                         ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
  zmq::socket_t monitor(context_, zmq::socket_type::pair);
  monitor.connect("inproc://deltastream-link-monitor");
  dealer.connect(settings_.control);
  log->info("reader control {}, data {}{}", settings_.control, settings_.publish,
            settings_.curve.enabled() ? " (CURVE)" : "");
  for (const auto* endpoint : {&settings_.control, &settings_.publish}) {
    if (settings_.curve.enabled() || is_local_endpoint(*endpoint)) continue;
    log->warn("{} is on another machine and CURVE is off: the ZeroMQ hop is unauthenticated "
              "and unencrypted (see --curve-secret-key)", *endpoint);
  }

  while (!stopping_) {
    zmq_pollitem_t items[] = {
        {dealer.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, wake_fd_, ZMQ_POLLIN, 0},
        {monitor.handle(), 0, ZMQ_POLLIN, 0},
    };
    if (zmq_poll(items, 3, 200) < 0) {
      if (errno == EINTR) continue;
      log->error("zmq_poll: {}", zmq_strerror(errno));
      break;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      std::uint64_t count;
      (void)!read(wake_fd_, &count, sizeof count);
    }
    send_queued(dealer);
    if (items[0].revents & ZMQ_POLLIN) receive_replies(dealer);
    if (items[2].revents & ZMQ_POLLIN) log_connection_event(monitor);
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
    if (reply.protocol != proto::control_protocol) {
      // An older or newer reader: its replies may mean something else; none is trusted.
      const auto spoken = reply.protocol ? std::to_string(*reply.protocol) : std::string("1 (none named)");
      reply.ok = false;
      reply.code = proto::refusal_code::none;
      reply.error = "the reader speaks control protocol " + spoken + ", this gateway " +
                    std::to_string(proto::control_protocol) + ": run a reader and a gateway of the same release";
      if (!warned_protocol_) module_logger("link")->error("{}", reply.error);
      warned_protocol_ = true;
    }
    net::post(io_, [handler = std::move(found->second.handler), reply = std::move(reply)] {
      handler(reply);
    });
    pending_.erase(found);
  }
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
