#include "reader/control_server.hpp"

#include "common/logging.hpp"

namespace deltastream::reader {

namespace {
constexpr std::size_t max_request_bytes = 64 * 1024;
}

control_server::control_server(zmq::context_t& context, const std::string& endpoint,
                               const std::optional<curve_keypair>& curve)
    : socket_(context, zmq::socket_type::router) {
  if (curve) make_curve_server(socket_, *curve);
  socket_.set(zmq::sockopt::linger, 0);
  // A vanished peer's replies are dropped instead of blocking the loop.
  socket_.set(zmq::sockopt::router_mandatory, 0);
  socket_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(max_request_bytes));
  socket_.bind(endpoint);
}

std::optional<control_server::request> control_server::receive() {
  std::vector<zmq::message_t> frames;
  while (true) {
    zmq::message_t frame;
    const auto flags = frames.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none;
    if (!socket_.recv(frame, flags)) return std::nullopt;
    const bool more = frame.more();
    frames.push_back(std::move(frame));
    if (!more) break;
  }
  if (frames.size() < 2) {  // a ROUTER always prepends the identity
    module_logger("control")->warn("dropped a control message without routing frames");
    return std::nullopt;
  }
  request next{next_ticket_++, frames.back().to_string()};
  frames.pop_back();
  envelopes_[next.ticket] = std::move(frames);
  return next;
}

void control_server::reply(std::uint64_t ticket, const std::string& body) {
  auto found = envelopes_.find(ticket);
  if (found == envelopes_.end()) return;
  for (auto& frame : found->second) socket_.send(frame, zmq::send_flags::sndmore);
  socket_.send(zmq::buffer(body), zmq::send_flags::none);
  envelopes_.erase(found);
}

std::string control_server::endpoint() const { return socket_.get(zmq::sockopt::last_endpoint); }

}  // namespace deltastream::reader
