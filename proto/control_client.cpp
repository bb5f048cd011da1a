#include "proto/control_client.hpp"

#include <unistd.h>

namespace deltastream::proto {

void configure_reader_socket(zmq::socket_t& socket, const reader_endpoints& endpoints) {
  socket.set(zmq::sockopt::linger, 0);
  // ZeroMQ reconnects by itself when the reader goes away; back off up to 5 s.
  socket.set(zmq::sockopt::reconnect_ivl, 100);
  socket.set(zmq::sockopt::reconnect_ivl_max, 5000);
  if (endpoints.curve.enabled()) {
    make_curve_client(socket, *endpoints.curve.keypair, endpoints.curve.server_key);
  }
}

control_client::control_client(zmq::context_t& context, const reader_endpoints& endpoints)
    : context_(context), endpoints_(endpoints) {
  reopen();
}

void control_client::reopen() {
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  configure_reader_socket(socket_, endpoints_);
  socket_.connect(endpoints_.control);
}

std::string control_client::send(control_request request) {
  // Unique across reopened sockets and restarted tools: a late reply is never mistaken.
  request.id = std::to_string(getpid()) + "-" + std::to_string(next_id_++);
  socket_.send(zmq::buffer(encode_control_request(request)), zmq::send_flags::dontwait);
  return request.id;
}

std::optional<control_reply> control_client::receive(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) return std::nullopt;  // or EINTR
  zmq::message_t message;
  if (!socket_.recv(message, zmq::recv_flags::dontwait)) return std::nullopt;
  if (message.more()) {  // a delimiter frame: the reply follows
    if (!socket_.recv(message, zmq::recv_flags::dontwait)) return std::nullopt;
  }
  return decode_control_reply(message.to_string_view());
}

control_reply control_client::call(control_request request) {
  const auto id = send(std::move(request));
  const auto deadline = std::chrono::steady_clock::now() + endpoints_.call_timeout;
  for (auto now = std::chrono::steady_clock::now(); now < deadline; now = std::chrono::steady_clock::now()) {
    auto reply = receive(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (reply && reply->id == id) return std::move(*reply);
  }
  reopen();
  throw reader_unreachable("the reader at " + endpoints_.control + " did not answer within " +
                           std::to_string(endpoints_.call_timeout.count()) + " ms");
}

}  // namespace deltastream::proto
