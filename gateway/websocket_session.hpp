#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "gateway/client_connections.hpp"
#include "gateway/gateway_context.hpp"
#include "gateway/session_stream.hpp"
#include "gateway/stream_hub.hpp"
#include "gateway/write_coalescing_stream.hpp"

namespace deltastream::gateway {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

// One WebSocket on /v1/lr/stream or /v2/streams/{name}/changes: attaches its stream through the reader before the
// upgrade (so an unknown slot is an HTTP 404, not a silent socket), then sends one text
// frame per change from a bounded queue and relays the consumer's ACKs to the reader.
// Over plain_stream or tls_stream, as the http_session that it takes over from.
template <class Stream>
class websocket_session : public std::enable_shared_from_this<websocket_session<Stream>>,
                          public stream_client {
 public:
  enum class role { consumer, observer };

  websocket_session(Stream&& stream, gateway_context& context, connection_token token);
  ~websocket_session() override;

  void run(beast::http::request<beast::http::string_body> request);

  void deliver(std::shared_ptr<const std::string> piece, lsn position, bool last_piece) override;
  void end(close_code code, std::string reason) override;

 private:
  void send_attach();
  void on_attached(const proto::control_reply& reply);
  void renew_lease();
  // Pauses the consumer's stream at the reader while too much waits for the client
  // (websocket_lease.cpp), and lets it go on once the client caught up.
  void pace();
  void reject(beast::http::status status, const std::string& message);
  void on_accept(beast::error_code error);
  void read_next();
  void on_read(beast::error_code error, std::size_t bytes);
  void handle_ack(std::string_view text);
  void send_ack(lsn position);
  proto::control_request ack_request(lsn position) const;
  void send_error_frame(const std::string& message);
  // `piece` lies in `owner`'s bytes (a row stream's piece is split without copying).
  void enqueue(std::shared_ptr<const std::string> owner, std::string_view piece, bool last_piece);
  void write_next();
  void on_write(beast::error_code error, std::size_t bytes);
  void close_now();
  void leave_hub();

  // Client messages are read this much at a time, so that the size limit is checked
  // before a message is whole in memory.
  static constexpr std::size_t read_piece_bytes = 16 << 10;
  // The reader's lease lasts 5 s (reader/consumer_leases.hpp): renew well within it.
  static constexpr std::chrono::seconds lease_renewal_interval{1};

  websocket::stream<write_coalescing_stream<Stream>> ws_;
  gateway_context& context_;
  connection_token token_;  // the http_session's: counts this connection for its client
  beast::http::request<beast::http::string_body> request_;
  beast::flat_buffer read_buffer_;
  boost::asio::steady_timer close_deadline_;
  boost::asio::steady_timer lease_timer_;  // renews the consumer lease; or retries attach
  proto::control_request attach_;
  bool retried_attach_ = false;

  std::string stream_;
  bool rows_ = false;  // a v2 row stream: one message per line of a piece
  bool open_transaction_ = false;  // rows_: the last piece was not a transaction's last
  role role_ = role::consumer;
  bool in_hub_ = false;
  bool accepted_ = false;
  bool ended_ = false;
  bool writing_ = false;
  bool closing_ = false;
  websocket::close_reason close_reason_;

  struct outgoing {
    std::shared_ptr<const std::string> owner;
    std::string_view bytes;  // in *owner
    bool last_piece = true;  // false: more of the same WebSocket message follows
  };
  std::deque<outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  bool paused_ = false;  // the consumer's stream is paused at the reader
  std::chrono::steady_clock::time_point last_progress_{};  // a write completed, or the pause began
  static constexpr std::chrono::seconds stall_limit{10};
  static constexpr std::size_t paused_allowance = std::size_t{64} << 20;  // the reader's default bound
  bool enqueued_open_message_ = false;  // the last piece queued was not a message's last
  bool writing_open_message_ = false;   // the last frame written was not a message's last
  // Error frames that came while a message's pieces were being queued: they follow it.
  std::vector<std::shared_ptr<const std::string>> held_errors_;
  lsn delivered_;  // highest position handed to this client: ACKs beyond it are refused
  bool ack_in_flight_ = false;
  std::optional<lsn> queued_ack_;  // the highest ACK that came while one was in flight
  std::uint64_t epoch_ = 0;  // the consumer's epoch: its ACKs name it (a fence at the reader)
};

}  // namespace deltastream::gateway
