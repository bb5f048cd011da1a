#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "gateway/api_router.hpp"
#include "gateway/client_connections.hpp"
#include "gateway/gateway_context.hpp"
#include "gateway/session_stream.hpp"

namespace deltastream::gateway {

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

// One HTTP connection, plain or TLS (Stream: plain_stream or tls_stream): the TLS
// handshake first, then reads requests within the size and time limits, answers them
// one at a time through the router (a streamed answer as chunks, pulled one at a time
// from its source as the client takes them), and hands WebSocket upgrades to a
// websocket_session.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  // `stream_args` make the Stream: the socket, and for TLS the ssl::context.
  template <class... StreamArgs>
  http_session(gateway_context& context, connection_token token, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...), context_(context), token_(std::move(token)) {}
  void run();

 private:
  void on_handshake(beast::error_code error);
  void read_next();
  void on_read(beast::error_code error, std::size_t bytes);
  void send(http_response response);
  void send_streamed(streamed_response reply, unsigned version, bool keep_alive);
  void next_piece();
  void on_piece(body_piece piece);
  void on_write(bool close, beast::error_code error, std::size_t bytes);
  void refuse(beast::http::status status, const std::string& message);
  void shut_down();
  void linger_close();
  void drain_next(std::size_t budget);

  Stream stream_;
  gateway_context& context_;
  connection_token token_;  // released when the connection ends, or handed on upgrade
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  std::shared_ptr<http_response> pending_;
  // A streamed response under way: its header, then chunks pulled one at a time.
  std::optional<beast::http::response<beast::http::empty_body>> stream_header_;
  std::optional<beast::http::response_serializer<beast::http::empty_body>> stream_serializer_;
  std::shared_ptr<body_source> source_;
  std::string piece_;  // the chunk being written
  std::string request_line_;  // "METHOD /path" of the request being answered, for the log
  std::vector<char> drain_buffer_;
};

}  // namespace deltastream::gateway
