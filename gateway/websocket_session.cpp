#include "gateway/websocket_session.hpp"

#include "common/json_writer.hpp"
#include "common/logging.hpp"
#include "common/stream_name.hpp"
#include "gateway/http_response.hpp"
#include "gateway/query_string.hpp"
#include "gateway/v2_path.hpp"

namespace deltastream::gateway {

namespace http = beast::http;

template <class Stream>
websocket_session<Stream>::websocket_session(Stream&& stream, gateway_context& context,
                                             connection_token token)
    : ws_(std::move(stream)),
      context_(context),
      token_(std::move(token)),
      close_deadline_(context.io),
      lease_timer_(context.io) {}

template <class Stream>
websocket_session<Stream>::~websocket_session() {
  leave_hub();
}

template <class Stream>
void websocket_session<Stream>::run(http::request<http::string_body> request) {
  ws_.next_layer().keep_alive_with(this->weak_from_this());
  request_ = std::move(request);
  const auto target = parse_target({request_.target().data(), request_.target().size()});
  if (!target) return reject(http::status::bad_request, "malformed request target");
  if (const auto v2 = parse_v2_path(target->path)) {
    // /v2/streams/{name}/changes: a row stream, each of its events one message.
    if (!valid_v2_name(v2->name)) return reject(http::status::not_found, "no such stream \"" + v2->name + "\"");
    stream_ = v2_slot(v2->name);
    rows_ = true;
  } else {
    stream_ = target->param("slotName");
    if (stream_.empty()) return reject(http::status::bad_request, "no slotName provided");
    if (!stream_name::parse(stream_)) {
      return reject(http::status::not_found, "unknown slot \"" + stream_ + "\"");
    }
    if (!v2_name_of_slot(stream_).empty()) {
      return reject(http::status::bad_request, "slot \"" + stream_ + "\" is v2 stream \"" + v2_name_of_slot(stream_) +
                                                   "\": read it at /v2/streams/" + v2_name_of_slot(stream_) + "/changes");
    }
  }
  const auto mode = target->param("mode");
  if (mode == "observe") {
    role_ = role::observer;
  } else if (!mode.empty() && mode != "consume") {
    return reject(http::status::bad_request, "mode must be \"consume\" (the default) or \"observe\"");
  }
  const auto takeover_param = target->param("takeover");
  const bool takeover = takeover_param == "true" || takeover_param == "1";
  if (role_ == role::consumer) {
    if (context_.hub.has_consumer(stream_) && !takeover) {
      return reject(http::status::conflict,
                    "slot \"" + stream_ + "\" already has a consumer; add &takeover=true to "
                    "replace it, or &mode=observe to watch");
    }
    context_.hub.claim_consumer(stream_, this);
    in_hub_ = true;
  }
  // A consumer restarts the stream from its committed position in a new epoch, so that
  // it sees every change since its last ACK; an observer joins whatever is live. The
  // reader keeps one consumer per stream across gateways (a lease this session renews).
  attach_.op = proto::control_op::attach;
  attach_.stream = stream_;
  if (role_ == role::consumer) {
    attach_.restart = true;
    attach_.consumer = context_.instance + "-" + std::to_string(++context_.consumers_started);
    attach_.takeover = takeover;
    // The new epoch's first frame must not leave the reader before this gateway's SUB
    // would receive it (it may have connected later than the control socket).
    attach_.marker = attach_.consumer;
    context_.link.add_marker(stream_, attach_.marker);
  }
  send_attach();
}

template <class Stream>
void websocket_session<Stream>::send_attach() {
  context_.link.call(attach_, [self = this->shared_from_this()](const proto::control_reply& reply) {
    self->on_attached(reply);
  });
}

template <class Stream>
void websocket_session<Stream>::on_attached(const proto::control_reply& reply) {
  if (ended_) {
    // Ended while attaching: its stream was dropped (410), or another consumer took over.
    const bool dropped = close_reason_.code == static_cast<websocket::close_code>(close_code::normal);
    return reject(dropped ? http::status::gone : http::status::conflict, close_reason_.reason.empty()
                                              ? std::string("taken over by a new consumer")
                                              : std::string(close_reason_.reason.data(),
                                                            close_reason_.reason.size()));
  }
  const bool conflict = reply.code == proto::refusal_code::conflict;
  if (!reply.ok && conflict && reply.retry_after_ms && !retried_attach_) {
    // Another consumer holds the stream, through another gateway, which may just have
    // died: wait once for its lease to run out before answering 409.
    retried_attach_ = true;
    lease_timer_.expires_after(std::chrono::milliseconds(*reply.retry_after_ms + 100));
    lease_timer_.async_wait([self = this->shared_from_this()](beast::error_code error) {
      if (!error && !self->ended_) self->send_attach();
    });
    return;
  }
  if (!reply.ok && conflict) {
    leave_hub();
    return reject(http::status::conflict,
                  reply.error + " on another gateway; add &takeover=true to replace it, or "
                                "&mode=observe to watch");
  }
  if (!reply.ok) {
    leave_hub();
    const bool unknown = reply.code == proto::refusal_code::no_such_stream;
    return reject(unknown ? http::status::not_found : http::status::service_unavailable,
                  unknown ? "unknown slot \"" + stream_ + "\"" : reply.error);
  }
  if (role_ == role::consumer) {
    // What is already committed counts as delivered: a client that re-sends its last
    // ACK after reconnecting is right, not beyond anything.
    delivered_ = std::max(delivered_, reply.start_lsn);
    epoch_ = reply.epoch;
    context_.hub.consumer_attached(stream_, this, reply.epoch, reply.seq, reply.ended_epoch);
  } else {
    context_.hub.add_observer(stream_, this);
    in_hub_ = true;
  }
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
    response.set(http::field::server, "deltastream");
  }));
  // No limit in Beast: it would close an oversize message with 1009 and no reason;
  // read_next() reads in pieces and enforces --max-frame-bytes itself.
  ws_.read_message_max(0);
  ws_.async_accept(request_, beast::bind_front_handler(&websocket_session::on_accept,
                                                       this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::reject(http::status status, const std::string& message) {
  context_.refusals.write("websocket", fmt::format("{}: refused a WebSocket from {}: {} {}",
                                                   printable(stream_), token_.address().to_string(),
                                                   static_cast<int>(status), printable(message, 400)));
  ended_ = true;
  leave_hub();
  auto response = std::make_shared<http_response>(json_error(status, message));
  response->keep_alive(false);
  // Past the coalescing layer, which would report the write done before it is sent.
  http::async_write(ws_.next_layer().next_layer(), *response,  // through TLS, when there is TLS
                    [self = this->shared_from_this(), response](beast::error_code, std::size_t) {
                      self->close_now();
                    });
}

template <class Stream>
void websocket_session<Stream>::on_accept(beast::error_code error) {
  if (error) {
    ended_ = true;
    leave_hub();
    return;
  }
  accepted_ = true;
  if (role_ == role::consumer) renew_lease();
  module_logger("websocket")->info("{}: {} connected", stream_,
                                   role_ == role::consumer ? "consumer" : "observer");
  read_next();
  if (ended_) {
    closing_ = true;
    write_next();
  } else if (!queue_.empty()) {
    write_next();
  }
}

template <class Stream>
void websocket_session<Stream>::read_next() {
  ws_.async_read_some(read_buffer_, read_piece_bytes,
                      beast::bind_front_handler(&websocket_session::on_read, this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::on_read(beast::error_code error, std::size_t) {
  if (error) {  // the client closed, vanished or broke the protocol: Beast answered it
    ended_ = true;
    leave_hub();
    close_deadline_.cancel();
    close_now();  // a send still waiting for room would otherwise keep this session alive
    return;
  }
  const auto limit = context_.settings.max_frame_bytes;
  if (read_buffer_.size() > limit) {
    // Stop reading: Beast's close handshake reads (and discards) the rest.
    return end(close_code::too_big, "message over the limit of " + std::to_string(limit) +
                                        " bytes; an ACK is {\"lsn\":\"X/Y\"}");
  }
  if (!ws_.is_message_done()) return read_next();
  const std::string text = beast::buffers_to_string(read_buffer_.data());
  read_buffer_.consume(read_buffer_.size());
  if (!ws_.got_text()) {
    send_error_frame("ACKs are text frames: {\"lsn\":\"X/Y\"}");
  } else {
    handle_ack(text);
  }
  read_next();
}

template <class Stream>
void websocket_session<Stream>::send_error_frame(const std::string& message) {
  if (ended_) return;
  // Nothing was committed; the connection stays, and the log says why the client was told off.
  context_.refusals.write("websocket", fmt::format("{}: error frame to the {} at {}: {}", stream_,
                                                   role_ == role::consumer ? "consumer" : "observer",
                                                   token_.address().to_string(), printable(message, 400)));
  auto frame = std::make_shared<const std::string>(json_object().add("error", message).str());
  // A WebSocket message cannot be interrupted by another: wait for its last piece.
  if (enqueued_open_message_) return held_errors_.push_back(std::move(frame));
  const std::string_view whole = *frame;
  enqueue(std::move(frame), whole, true);
}

template <class Stream>
void websocket_session<Stream>::deliver(std::shared_ptr<const std::string> piece, lsn position,
                                        bool last_piece) {
  if (ended_) return;
  if (rows_) {
    // A row stream's piece is whole lines: each is a message of its own.
    open_transaction_ = !last_piece;
    const std::string_view lines = *piece;
    for (std::size_t at = 0; at < lines.size() && !ended_;) {
      const auto end = std::min(lines.find('\n', at), lines.size());
      if (end > at) enqueue(piece, lines.substr(at, end - at), true);
      at = end + 1;
    }
  } else {
    const std::string_view whole = *piece;
    enqueue(std::move(piece), whole, last_piece);
  }
  if (ended_ || !last_piece) return;
  delivered_ = std::max(delivered_, position);
  auto held = std::move(held_errors_);
  held_errors_.clear();
  for (auto& frame : held) {
    const std::string_view whole = *frame;
    enqueue(std::move(frame), whole, true);
  }
}

template <class Stream>
void websocket_session<Stream>::enqueue(std::shared_ptr<const std::string> owner, std::string_view piece,
                                        bool last_piece) {
  // The bound is on what waits behind the frame being written: one huge message may be
  // in flight, and the next message is not a reason to give up on the client. A consumer
  // whose stream is paused (pace()) still receives what the reader had queued before it
  // heard, at most the reader's --max-queued-bytes (64 MiB by default): that much more.
  const auto limit = context_.settings.max_queue_bytes + (paused_ ? paused_allowance : 0);
  const std::size_t in_flight = writing_ && !queue_.empty() ? queue_.front().bytes.size() : 0;
  const std::size_t waiting = queued_bytes_ - in_flight;
  if (waiting > 0 && waiting + piece.size() > limit) {
    end(close_code::policy, "client too slow: over " + std::to_string(limit >> 10) +
                                " KiB waiting; reconnect to resume after your last ACK");
    return;
  }
  queued_bytes_ += piece.size();
  enqueued_open_message_ = !last_piece;
  queue_.push_back({std::move(owner), piece, last_piece});
  pace();
  if (accepted_ && !writing_) write_next();
}

template <class Stream>
void websocket_session<Stream>::write_next() {
  if (queue_.empty()) {
    if (closing_) {
      writing_ = true;  // the close frame is a write too: one at a time
      ws_.async_close(close_reason_, [self = this->shared_from_this()](beast::error_code) {
        self->writing_ = false;
      });
    }
    return;
  }
  writing_ = true;
  const auto& next = queue_.front();
  auto on_write = beast::bind_front_handler(&websocket_session::on_write, this->shared_from_this());
  // More is queued behind this frame: send them together, in one system call.
  if (queue_.size() > 1) ws_.next_layer().hold_next_write();
  if (next.last_piece && !writing_open_message_) {
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(next.bytes.data(), next.bytes.size()), std::move(on_write));
    return;
  }
  // A piece of a large message: a frame of it, continued by the next piece's frame.
  if (!writing_open_message_) ws_.text(true);
  writing_open_message_ = !next.last_piece;
  ws_.async_write_some(next.last_piece, boost::asio::buffer(next.bytes.data(), next.bytes.size()), std::move(on_write));
}

template <class Stream>
void websocket_session<Stream>::on_write(beast::error_code error, std::size_t) {
  writing_ = false;
  if (error) {
    ended_ = true;
    leave_hub();
    close_now();
    return;
  }
  queued_bytes_ -= queue_.front().bytes.size();
  queue_.pop_front();
  last_progress_ = std::chrono::steady_clock::now();
  pace();
  write_next();
}

template <class Stream>
void websocket_session<Stream>::end(close_code code, std::string reason) {
  if (ended_) return;
  ended_ = true;
  leave_hub();
  context_.hub.count_disconnect(stream_, code);
  module_logger("websocket")->info("{}: closing the {} ({}): {}", stream_,
                                   role_ == role::consumer ? "consumer" : "observer",
                                   static_cast<int>(code), reason);
  if (reason.size() > 123) reason.resize(123);  // RFC 6455's limit for a close reason
  close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), std::move(reason));
  if (!accepted_) return;  // on_attached or on_accept finishes the job
  closing_ = true;
  // Drop what is still waiting (keep the frame being written: its buffer is in use).
  while (queue_.size() > (writing_ ? 1u : 0u)) {
    queued_bytes_ -= queue_.back().bytes.size();
    queue_.pop_back();
  }
  held_errors_.clear();
  if (!writing_) write_next();
  // A client that reads nothing never lets the close frame out: cut it after 5 s.
  close_deadline_.expires_after(std::chrono::seconds(5));
  close_deadline_.async_wait([self = this->shared_from_this()](beast::error_code error) {
    if (!error) self->close_now();
  });
}

template <class Stream>
void websocket_session<Stream>::close_now() {
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

template <class Stream>
void websocket_session<Stream>::leave_hub() {
  if (!in_hub_) return;
  in_hub_ = false;
  context_.hub.remove(stream_, this);
  if (role_ == role::consumer) {
    context_.link.remove_marker(stream_, attach_.marker);
    // An ACK that waited for the one in flight goes before the claim is given up (the
    // reader takes requests in order): the client sent it, so it is committed.
    if (auto queued = std::exchange(queued_ack_, std::nullopt)) {
      context_.link.call(ack_request(*queued), [](const proto::control_reply&) {});
    }
    // Free the stream at once for the next consumer, on any gateway.
    proto::control_request unhold;
    unhold.op = proto::control_op::unhold;
    unhold.stream = stream_;
    unhold.consumer = attach_.consumer;
    context_.link.call(unhold, [](const proto::control_reply&) {});
  }
}

template class websocket_session<plain_stream>;
template class websocket_session<tls_stream>;

}  // namespace deltastream::gateway
