#include "gateway/websocket_session.hpp"

#include <algorithm>
#include <utility>

#include "gateway/ack_message.hpp"

// A consumer's ACKs: checked against what this connection delivered, then relayed to the
// reader, one call at a time.
namespace deltastream::gateway {

template <class Stream>
void websocket_session<Stream>::handle_ack(std::string_view text) {
  if (role_ == role::observer) {
    return send_error_frame("observers do not ACK (this connection has mode=observe)");
  }
  const auto parsed = parse_ack(text);
  if (const auto* problem = std::get_if<std::string>(&parsed)) return send_error_frame(*problem);
  const auto position = std::get<lsn>(parsed);
  if (position > delivered_) {
    return send_error_frame("lsn " + position.to_string() +
                            " is beyond what was delivered on this connection (" +
                            delivered_.to_string() + ")");
  }
  // One ACK call in flight a consumer: one that comes meanwhile waits, and a later one
  // replaces it (only the highest position matters). A client that ACKs every commit of
  // 20,000 small transactions would otherwise fill the reader link's queue, which then
  // refuses ACKs ("the reader's control queue is full").
  if (ack_in_flight_) {
    queued_ack_ = std::max(queued_ack_.value_or(lsn()), position);
    return;
  }
  send_ack(position);
}

template <class Stream>
proto::control_request websocket_session<Stream>::ack_request(lsn position) const {
  proto::control_request ack;
  ack.op = proto::control_op::ack;
  ack.stream = stream_;
  ack.ack_lsn = position;
  ack.consumer = attach_.consumer;
  ack.epoch = epoch_;
  return ack;
}

template <class Stream>
void websocket_session<Stream>::send_ack(lsn position) {
  ack_in_flight_ = true;
  std::weak_ptr<websocket_session> weak = this->shared_from_this();
  context_.link.call(ack_request(position), [weak](const proto::control_reply& reply) {
    auto self = weak.lock();
    if (!self) return;
    self->ack_in_flight_ = false;
    // pgdeltastream sent nothing on success; neither do we.
    if (!reply.ok) self->send_error_frame("ACK not committed: " + reply.error);
    // Also when the connection has ended since: the client sent it, so it is committed.
    if (auto next = std::exchange(self->queued_ack_, std::nullopt)) self->send_ack(*next);
  });
}

template class websocket_session<plain_stream>;
template class websocket_session<tls_stream>;

}  // namespace deltastream::gateway
