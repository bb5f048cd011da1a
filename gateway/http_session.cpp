#include "gateway/http_session.hpp"

#include "gateway/v2_path.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket.hpp>

#include "common/logging.hpp"
#include "gateway/query_string.hpp"
#include "gateway/websocket_session.hpp"

namespace deltastream::gateway {

namespace http = beast::http;

namespace {

// What a log line names a request by: its method and path, never the query string
// (whatever a client put there is not the log's business).
std::string request_line(const http::request<http::string_body>& head) {
  const std::string_view target(head.target().data(), head.target().size());
  const auto path = target.substr(0, target.find('?'));
  if (head.method_string().empty() || path.empty()) return "(malformed request)";
  return std::string(head.method_string()) + " " + std::string(path.substr(0, 200));
}

}  // namespace

template <class Stream>
void http_session<Stream>::run() {
  if constexpr (is_tls<Stream>) {
    // The handshake has a request's time limit: a client that connects and says
    // nothing is cut off either way.
    beast::get_lowest_layer(stream_).expires_after(context_.settings.http_timeout);
    stream_.async_handshake(boost::asio::ssl::stream_base::server,
                            beast::bind_front_handler(&http_session::on_handshake,
                                                      this->shared_from_this()));
  } else {
    read_next();
  }
}

template <class Stream>
void http_session<Stream>::on_handshake(beast::error_code error) {
  if (error) {
    // Plain HTTP on the TLS port, a scanner, a client that distrusts our certificate:
    // normal enough on an open port, and not worth the log above debug.
    module_logger("http")->debug("TLS handshake failed: {}", error.message());
    return;  // the session ends, the socket closes
  }
  read_next();
}

template <class Stream>
void http_session<Stream>::read_next() {
  parser_.emplace();
  parser_->body_limit(context_.settings.max_body_bytes);
  parser_->header_limit(static_cast<std::uint32_t>(context_.settings.max_header_bytes));
  // A client that opens a connection and sends nothing is cut off after the timeout.
  beast::get_lowest_layer(stream_).expires_after(context_.settings.http_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
}

template <class Stream>
void http_session<Stream>::on_read(beast::error_code error, std::size_t) {
  // A TLS client that closes without close_notify truncates the stream: a hang-up too.
  if (error == http::error::end_of_stream || error == beast::error::timeout ||
      error == boost::asio::ssl::error::stream_truncated) {
    return shut_down();
  }
  request_line_ = request_line(parser_->get());
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
    // Garbage on the port: answer once, plainly, and hang up (send() logs it).
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
  const auto v2 = target ? parse_v2_path(target->path) : std::nullopt;
  if (upgrade && target &&
      (target->path == "/v1/lr/stream" || target->path == "/v1/lr/stream/" ||
       (v2 && !v2->name.empty() && v2->action == "changes"))) {
    beast::get_lowest_layer(stream_).expires_never();  // the WebSocket sets its own timeouts
    std::make_shared<websocket_session<Stream>>(std::move(stream_), context_, std::move(token_))
        ->run(std::move(request));
    return;
  }
  route_request(context_, request,
                [self = this->shared_from_this(), keep_alive = request.keep_alive(),
                 version = request.version()](http_reply reply) {
                  if (auto* streamed = std::get_if<streamed_response>(&reply)) {
                    return self->send_streamed(std::move(*streamed), version, keep_alive);
                  }
                  auto& response = std::get<http_response>(reply);
                  response.version(version);
                  response.keep_alive(keep_alive);
                  self->send(std::move(response));
                });
}

template <class Stream>
void http_session<Stream>::send(http_response response) {
  pending_ = std::make_shared<http_response>(std::move(response));
  if (pending_->result_int() >= 400) {
    // A refused request changes nothing; the log says who asked for what, and why not.
    context_.refusals.write("http", fmt::format("{} {}: {} {}", token_.address().to_string(), request_line_,
                                                pending_->result_int(), pending_->body().substr(0, 300)));
  }
  const bool close = pending_->need_eof();
  beast::get_lowest_layer(stream_).expires_after(context_.settings.http_timeout);
  http::async_write(stream_, *pending_,
                    beast::bind_front_handler(&http_session::on_write, this->shared_from_this(), close));
}

template <class Stream>
void http_session<Stream>::on_write(bool close, beast::error_code error, std::size_t) {
  pending_.reset();
  if (error) return;
  if (close) return linger_close();
  read_next();
}

template <class Stream>
void http_session<Stream>::send_streamed(streamed_response reply, unsigned version, bool keep_alive) {
  auto& header = stream_header_.emplace(http::status::ok, version);
  header.set(http::field::server, "deltastream");
  header.set(http::field::content_type, reply.content_type);
  header.keep_alive(keep_alive);
  header.chunked(true);
  source_ = std::move(reply.source);
  stream_serializer_.emplace(header);
  beast::get_lowest_layer(stream_).expires_after(context_.settings.http_timeout);
  http::async_write_header(stream_, *stream_serializer_,
                           [self = this->shared_from_this()](beast::error_code error, std::size_t) {
                             if (!error) self->next_piece();
                           });
}

template <class Stream>
void http_session<Stream>::next_piece() {
  source_->next([self = this->shared_from_this()](body_piece piece) { self->on_piece(std::move(piece)); });
}

template <class Stream>
void http_session<Stream>::on_piece(body_piece piece) {
  if (piece.end == body_piece::end::failed) {
    // Without the last chunk the client sees a body cut short, never a complete one.
    source_.reset();
    return shut_down();
  }
  const bool last = piece.end == body_piece::end::last;
  if (piece.data.empty() && !last) return next_piece();
  beast::get_lowest_layer(stream_).expires_after(context_.settings.http_timeout);
  if (piece.data.empty()) {
    const bool close = !stream_header_->keep_alive();
    source_.reset();
    stream_serializer_.reset();
    stream_header_.reset();
    piece_ = std::string();  // a kept-alive connection keeps no piece's memory
    return boost::asio::async_write(
        stream_, http::make_chunk_last(),
        beast::bind_front_handler(&http_session::on_write, this->shared_from_this(), close));
  }
  piece_ = std::move(piece.data);
  boost::asio::async_write(stream_, http::make_chunk(boost::asio::buffer(piece_)),
                           [self = this->shared_from_this(), last](beast::error_code error, std::size_t) {
                             if (error) return;  // the session ends; the source closes its COPY
                             self->on_piece({{}, last ? body_piece::end::last : body_piece::end::more});
                           });
}

template <class Stream>
void http_session<Stream>::shut_down() {
  if constexpr (is_tls<Stream>) {
    // close_notify, then wait for the client's; 5 s at most.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
  } else {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

template <class Stream>
void http_session<Stream>::linger_close() {
  // Close our side, then read and discard what the client is still sending (the body
  // of a request we refused, typically): closing with unread data would reset the
  // connection, and the client would never see our answer. Bounded in time and bytes.
  // TLS's shutdown does both: OpenSSL discards what arrives before the close_notify.
  shut_down();
  if constexpr (!is_tls<Stream>) {
    stream_.expires_after(std::chrono::seconds(5));
    drain_buffer_.resize(64 << 10);
    drain_next(16 << 20);
  }
}

template <class Stream>
void http_session<Stream>::drain_next(std::size_t budget) {
  stream_.async_read_some(
      boost::asio::buffer(drain_buffer_),
      [self = this->shared_from_this(), budget](beast::error_code error, std::size_t bytes) {
        if (error || bytes >= budget) return;  // done: the session ends, the socket closes
        self->drain_next(budget - bytes);
      });
}

template <class Stream>
void http_session<Stream>::refuse(http::status status, const std::string& message) {
  auto response = json_error(status, message);
  response.keep_alive(false);
  send(std::move(response));
}

template class http_session<plain_stream>;
template class http_session<tls_stream>;

}  // namespace deltastream::gateway
