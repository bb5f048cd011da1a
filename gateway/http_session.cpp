#include "gateway/http_session.hpp"

#include <boost/beast/websocket.hpp>

#include "common/logging.hpp"
#include "gateway/query_string.hpp"
#include "gateway/websocket_session.hpp"

namespace deltastream::gateway {

namespace http = beast::http;

http_session::http_session(tcp::socket&& socket, gateway_context& context, connection_token token)
    : stream_(std::move(socket)), context_(context), token_(std::move(token)) {}

void http_session::run() { read_next(); }

void http_session::read_next() {
  parser_.emplace();
  parser_->body_limit(context_.settings.max_body_bytes);
  parser_->header_limit(static_cast<std::uint32_t>(context_.settings.max_header_bytes));
  // A client that opens a connection and sends nothing is cut off after the timeout.
  stream_.expires_after(context_.settings.http_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code error, std::size_t) {
  if (error == http::error::end_of_stream || error == beast::error::timeout) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return;
  }
  if (error == http::error::body_limit) {
    return refuse(http::status::payload_too_large,
                  "request body over the limit of " + std::to_string(context_.settings.max_body_bytes) +
                      " bytes");
  }
  if (error == http::error::header_limit) {
    return refuse(http::status::request_header_fields_too_large,
                  "request headers over the limit of " +
                      std::to_string(context_.settings.max_header_bytes) + " bytes");
  }
  if (error) {
    // Garbage on the port: answer once, plainly, and hang up.
    module_logger("http")->debug("bad request: {}", error.message());
    return refuse(http::status::bad_request, "malformed HTTP request: " + error.message());
  }
  auto request = parser_->release();
  const auto target = parse_target({request.target().data(), request.target().size()});
  const bool upgrade = beast::websocket::is_upgrade(request);
  if (target) {
    if (auto refusal = check_access(context_.settings.access, request, *target, upgrade)) {
      refusal->version(request.version());
      refusal->keep_alive(request.keep_alive() && !upgrade);
      return send(std::move(*refusal));
    }
  }
  if (upgrade && target &&
      (target->path == "/v1/lr/stream" || target->path == "/v1/lr/stream/")) {
    stream_.expires_never();  // the WebSocket sets its own timeouts
    std::make_shared<websocket_session>(stream_.release_socket(), context_, std::move(token_))
        ->run(std::move(request));
    return;
  }
  route_request(context_, request,
                [self = shared_from_this(), keep_alive = request.keep_alive(),
                 version = request.version()](http_response response) {
                  response.version(version);
                  response.keep_alive(keep_alive);
                  self->send(std::move(response));
                });
}

void http_session::send(http_response response) {
  pending_ = std::make_shared<http_response>(std::move(response));
  const bool close = pending_->need_eof();
  stream_.expires_after(context_.settings.http_timeout);
  http::async_write(stream_, *pending_,
                    beast::bind_front_handler(&http_session::on_write, shared_from_this(), close));
}

void http_session::on_write(bool close, beast::error_code error, std::size_t) {
  pending_.reset();
  if (error) return;
  if (close) return linger_close();
  read_next();
}

void http_session::linger_close() {
  // Close our side, then read and discard what the client is still sending (the body
  // of a request we refused, typically): closing with unread data would reset the
  // connection, and the client would never see our answer. Bounded in time and bytes.
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(5));
  drain_buffer_.resize(64 << 10);
  drain_next(16 << 20);
}

void http_session::drain_next(std::size_t budget) {
  stream_.async_read_some(
      boost::asio::buffer(drain_buffer_),
      [self = shared_from_this(), budget](beast::error_code error, std::size_t bytes) {
        if (error || bytes >= budget) return;  // done: the session ends, the socket closes
        self->drain_next(budget - bytes);
      });
}

void http_session::refuse(http::status status, const std::string& message) {
  auto response = json_error(status, message);
  response.keep_alive(false);
  send(std::move(response));
}

}  // namespace deltastream::gateway
