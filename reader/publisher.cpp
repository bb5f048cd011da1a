#include "reader/publisher.hpp"

namespace deltastream::reader {

publisher::publisher(zmq::context_t& context, const std::string& endpoint, int high_water_mark,
                     const std::optional<curve_keypair>& curve)
    : socket_(context, zmq::socket_type::xpub) {
  if (curve) make_curve_server(socket_, *curve);
  socket_.set(zmq::sockopt::sndhwm, high_water_mark);
  socket_.set(zmq::sockopt::xpub_nodrop, 1);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.bind(endpoint);
}

bool publisher::publish(std::string_view stream, const proto::frame_header& header,
                        std::string_view payload) {
  const std::string topic = proto::topic_for(stream);
  const auto head = proto::encode_header(header);
  // ZeroMQ checks the high-water mark on the first frame only and delivers multipart
  // messages atomically: once the topic is accepted, the rest is too.
  if (!socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    return false;
  }
  socket_.send(zmq::buffer(head), zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::none);
  return true;
}

void publisher::drain_subscriptions() {
  zmq::message_t notice;
  while (socket_.recv(notice, zmq::recv_flags::dontwait)) {
  }
}

std::string publisher::endpoint() const { return socket_.get(zmq::sockopt::last_endpoint); }

}  // namespace deltastream::reader
