#include "reader/publisher.hpp"

namespace deltastream::reader {

namespace {

// A payload handed to ZeroMQ without a copy; counted until ZeroMQ frees it. By its
// capacity: a message assembled by appending holds up to twice its size.
struct queued_payload {
  queued_payload(std::shared_ptr<std::atomic<std::size_t>> counter, std::string&& payload)
      : counter(std::move(counter)), bytes(std::move(payload)), counted(bytes.capacity()) {
    *this->counter += counted;
  }
  ~queued_payload() { *counter -= counted; }

  std::shared_ptr<std::atomic<std::size_t>> counter;
  std::string bytes;
  std::size_t counted;
};

void free_queued_payload(void*, void* hint) { delete static_cast<queued_payload*>(hint); }

}  // namespace

publisher::publisher(zmq::context_t& context, const std::string& endpoint, int high_water_mark,
                     std::size_t max_queued_bytes, const std::optional<curve_keypair>& curve)
    : socket_(context, zmq::socket_type::xpub), max_queued_bytes_(max_queued_bytes) {
  if (curve) make_curve_server(socket_, *curve);
  socket_.set(zmq::sockopt::sndhwm, high_water_mark);
  socket_.set(zmq::sockopt::xpub_nodrop, 1);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(endpoint);
}

bool publisher::publish(std::string_view stream, const proto::frame_header& header,
                        std::string& payload) {
  // One message may pass the budget (else a piece larger than it would never go). By
  // capacity, as queued_payload counts it.
  const std::size_t queued = queued_bytes_->load();
  if (queued > 0 && queued + payload.capacity() > max_queued_bytes_) return false;
  const std::string topic = proto::topic_for(stream);
  const auto head = proto::encode_header(header);
  // ZeroMQ checks the high-water mark on the first frame only and delivers multipart
  // messages atomically: once the topic is accepted, the rest is too.
  if (!socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    return false;
  }
  socket_.send(zmq::buffer(head), zmq::send_flags::sndmore);
  used_ = true;
  if (payload.empty()) {
    socket_.send(zmq::message_t(), zmq::send_flags::none);
    return true;
  }
  auto held = std::make_unique<queued_payload>(queued_bytes_, std::move(payload));
  zmq::message_t message(held->bytes.data(), held->bytes.size(), free_queued_payload, held.get());
  held.release();  // the message owns it now: free_queued_payload deletes it
  socket_.send(message, zmq::send_flags::none);
  return true;
}

bool publisher::drain_subscriptions() {
  bool changed = false;
  zmq::message_t notice;
  while (socket_.recv(notice, zmq::recv_flags::dontwait)) {
    changed = subscriptions_.apply(notice.to_string_view()) || changed;
  }
  return changed;
}

bool publisher::reaches(std::string_view stream, std::string_view marker) const {
  const auto topic = proto::topic_for(stream);
  return subscriptions_.covers(topic) && (marker.empty() || subscriptions_.contains(topic + std::string(marker)));
}

std::string publisher::endpoint() const { return socket_.get(zmq::sockopt::last_endpoint); }

}  // namespace deltastream::reader
