#include "gateway/listener.hpp"

#include <boost/asio/ip/v6_only.hpp>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "gateway/http_response.hpp"
#include "gateway/http_session.hpp"

namespace deltastream::gateway {

namespace net = boost::asio;

listener::listener(gateway_context& context, std::shared_ptr<client_connections> connections)
    : context_(context),
      acceptor_(context.io),
      connections_(std::move(connections)) {}

std::shared_ptr<listener> listener::open(gateway_context& context, std::shared_ptr<client_connections> connections,
                                         const net::ip::tcp::endpoint& endpoint, boost::beast::error_code& error) {
  auto opened = std::make_shared<listener>(context, std::move(connections));
  auto& acceptor = opened->acceptor_;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(net::socket_base::reuse_address(true), error);
  if (!error && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    acceptor.set_option(net::ip::v6_only(false), error);  // `::`: IPv4 clients too
  }
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(net::socket_base::max_listen_connections, error);
  return error ? nullptr : opened;
}

void listener::run() { accept_next(); }

void listener::stop() {
  boost::beast::error_code ignored;
  acceptor_.close(ignored);
}

void listener::accept_next() {
  // One I/O thread: the sessions and the hub share it, so no strands are needed.
  acceptor_.async_accept(context_.io,
                         boost::beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(boost::beast::error_code error, net::ip::tcp::socket socket) {
  if (error == net::error::operation_aborted) return;  // stopped
  if (error) {
    // Out of file descriptors, typically: log and keep accepting.
    module_logger("http")->warn("accept: {}", error.message());
  } else {
    boost::beast::error_code peer_error;
    const auto peer = socket.remote_endpoint(peer_error);
    if (peer_error) {
      // Gone already (reset before we got to it): nothing to serve.
    } else if (auto token = connections_->admit(peer.address())) {
      // Every change is written as soon as it arrives: Nagle's algorithm would hold a
      // small frame back until the client's (delayed, up to 40 ms) ACK of the last one.
      boost::beast::error_code ignored;
      socket.set_option(net::ip::tcp::no_delay(true), ignored);
      if (context_.tls) {
        std::make_shared<http_session<tls_stream>>(context_, std::move(*token), std::move(socket),
                                                   *context_.tls)
            ->run();
      } else {
        std::make_shared<http_session<plain_stream>>(context_, std::move(*token), std::move(socket))
            ->run();
      }
    } else {
      refuse_crowded(socket, client_connections::client_of(peer.address()));
    }
  }
  accept_next();
}

void listener::refuse_crowded(net::ip::tcp::socket& socket, const net::ip::address& client) {
  // Debug only: whoever opens connections faster than we refuse them must not fill the log.
  module_logger("http")->debug("refused a connection from {}: {} open, the limit", client.to_string(),
                               connections_->open(client));
  // No session, no timer, no buffer for it: one write that a fresh socket's send buffer
  // takes at once (non-blocking, so never waits on the client), then close. A request the
  // client already sent stays unread, so its kernel may see a reset instead of the answer.
  // Over TLS, no answer: it would take a handshake, the very work the limit saves.
  boost::beast::error_code ignored;
  if (context_.tls) {
    socket.close(ignored);
    return;
  }
  auto response = json_error(boost::beast::http::status::too_many_requests,
                             "too many connections from " + client.to_string());
  response.keep_alive(false);
  socket.non_blocking(true, ignored);
  boost::beast::http::write(socket, response, ignored);
  socket.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace deltastream::gateway
