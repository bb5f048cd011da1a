#include "gateway/listener.hpp"

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "gateway/http_session.hpp"

namespace deltastream::gateway {

namespace net = boost::asio;

listener::listener(gateway_context& context, const net::ip::tcp::endpoint& endpoint)
    : context_(context), acceptor_(context.io) {
  boost::beast::error_code error;
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
  if (error) {
    throw config_error("--server-host/--server-port: cannot listen on " +
                       endpoint.address().to_string() + ":" + std::to_string(endpoint.port()) +
                       ": " + error.message());
  }
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
    std::make_shared<http_session>(std::move(socket), context_)->run();
  }
  accept_next();
}

}  // namespace deltastream::gateway
