#include "reader/stream.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "proto/data_frame.hpp"

namespace deltastream::reader {

namespace {

constexpr int pieces_per_turn = 4;

}  // namespace

stream::stream(stream_name name, lsn committed, std::unique_ptr<change_decoder> decoder,
               const stream_settings& settings, message_sink& sink, end_outbox& ends,
               epoch_clock& epochs)
    : name_(std::move(name)),
      settings_(settings),
      sink_(sink),
      ends_(ends),
      epochs_(epochs),
      acked_(committed),
      flushed_(committed),
      delivered_(committed),
      durable_(committed),
      received_(committed),
      decoder_(std::move(decoder)) {}

stream::~stream() = default;

void stream::begin_epoch() {
  streaming_ = true;
  start_failure_.clear();
  epoch_ = epochs_.next();
  seq_ = 0;
  // What this epoch has delivered and seen of the WAL: nothing past its start yet. The
  // previous epoch's WAL end must not count: the server sends what follows the start
  // again, and until it is delivered and acknowledged, the idle flush must not pass it.
  flushed_ = start_from_;
  delivered_ = start_from_;
  wal_end_ = start_from_;
  received_ = start_from_;
  pending_.reset();
  forget_decoding();
  paused_until_ = {};  // a pause was the previous epoch's consumer's
  gathering_ = false;
  gather_misses_ = 0;
  backoff_.reset();
  awaiting_audience_ = true;
  module_logger("stream")->info("{}: streaming from {} (epoch {})", name_.str(),
                                start_from_.to_string(), epoch_);
  send_status(false);
  check_audience();
  if (awaiting_audience_) {
    module_logger("stream")->info("{}: epoch {} waits for a subscriber{}", name_.str(), epoch_,
                                  audience_marker_.empty() ? "" : " (with its marker subscription)");
  }
}

void stream::check_audience() {
  // The previous epoch's end goes out first, then a subscriber must be there to see more.
  if (ends_.holds(name_.str()) || !sink_.reaches(name_.str(), audience_marker_)) return;
  awaiting_audience_ = false;
  audience_marker_.clear();
  publish_heartbeat();  // subscribers learn the new epoch at once
}

void stream::step(clock::time_point now, socket_ready ready) {
  if (!connection_) {
    if (now >= retry_at_ && !gone_) {
      if (awaiting_release_) return connect();  // the same start, marker and all
      start();  // a marker is for the attach's start only
    }
    return;
  }
  bool readable = ready.readable;
  try {
    if (!streaming_) return advance_start(now, ready);
    // While gathering, while a message is pending, or while nobody would receive the
    // epoch's first frame, the socket is not polled for input: `readable` then means an
    // error or a hang-up, which consume_input reports.
    if (awaiting_audience_) check_audience();
    if (awaiting_audience_) {
      if (readable) connection_->consume_input();  // nothing is read; status updates go on
    } else {
      bool waited = false;
      if (gathering_ && (readable || now >= gather_until_)) {
        gathering_ = false;
        readable = waited = true;
      }
      if (!gathering_) {
        if (readable) connection_->consume_input();
        read_messages(waited);
      }
    }
    if (wants_write_) wants_write_ = connection_->flush();
    if (status_due_ || now - last_status_ >= settings_.status_interval) send_status(false);
    if (!pending_ && !awaiting_audience_ && now - last_heartbeat_ >= settings_.heartbeat_interval) {
      publish_heartbeat();
    }
  } catch (const pg_error& error) {
    lose_connection(error.what(), error.sqlstate());
  } catch (const protocol_error& error) {
    lose_connection(std::string("protocol error after ") + received_.to_string() + ": " +
                        error.what(),
                    "");
  }
}

void stream::read_messages(bool after_wait) {
  more_buffered_ = false;
  if (paused()) return;
  if (pending_ && !flush_pending()) return;
  if (!publish_pieces() || awaiting_types_) return;
  bool progressed = false;       // a message was read this turn
  bool since_consume = false;    // ... since libpq last took in the socket's bytes
  std::span<const std::uint8_t> bytes;
  for (std::size_t count = 0; count < settings_.max_messages_per_turn; ++count) {
    switch (connection_->read(bytes)) {
      case replication_source::read_status::would_block:
        if (!decoder_->in_transaction()) return;  // between transactions: wait on the socket
        if (since_consume) {
          // libpq takes in one buffer's worth (16 KiB) at a time: more may be queued.
          connection_->consume_input();
          since_consume = false;
          continue;
        }
        // Mid-transaction with the socket drained: wait for the rest rather than wake for
        // each chunk (stream.hpp). A wait that brought nothing (a starved or stalled
        // walsender) is followed by a longer one, up to max_gather_delay.
        if (progressed) {
          gather_misses_ = 0;
        } else if (after_wait) {
          gather_misses_ = std::min(gather_misses_ + 1, 8);
        } else {
          return;  // already waiting on the socket, and nothing new: keep waiting there
        }
        start_gathering();
        return;
      case replication_source::read_status::ended:
        throw pg_error("the server ended the replication stream", "");
      case replication_source::read_status::message:
        progressed = since_consume = true;
        break;
    }
    const auto message = parse_copy_data(bytes);
    if (const auto* alive = std::get_if<keepalive>(&message)) {
      wal_end_ = std::max(wal_end_, alive->wal_end);
      // Idle and fully acknowledged: tell the server at once that its WAL end is
      // processed, so that WAL of other databases does not pile up behind this slot.
      if (alive->reply_requested || confirmable_position() > flushed_) send_status(false);
    } else {
      // Subscribers are full, or type names are missing, or this turn's pieces are out:
      // stop reading until they drain, the names come, or the next turn.
      if (!handle_xlog_data(std::get<xlog_data>(message))) return;
    }
  }
  more_buffered_ = true;  // the turn's budget ran out; libpq may hold more
}

void stream::start_gathering() {
  const bool large = decoder_->transaction_bytes() >= settings_.gather_after_bytes;
  const auto delay =
      (large ? settings_.large_gather_delay : settings_.gather_delay) * (1 << gather_misses_);
  gathering_ = true;
  gather_until_ = clock::now() + std::min<clock::duration>(delay, settings_.max_gather_delay);
}

bool stream::handle_xlog_data(const xlog_data& message) {
  received_ = std::max({received_, message.data_start, message.wal_end});
  decoder_->feed(message);
  // Nothing in progress and nothing to publish (a transaction without row changes, a
  // message outside any transaction): once everything before it is acknowledged, the
  // idle flush position may pass it.
  if (!decoder_->in_transaction()) wal_end_ = std::max(wal_end_, message.wal_end);
  if (!decoder_->missing_types().empty()) {
    resolve_types();
    return false;
  }
  return publish_pieces();
}

bool stream::publish_pieces() {
  // A few pieces a turn: a transaction that pgoutput's decoder spilled is all there at
  // once, and the loop must come round to control requests (a consumer's pause) between.
  for (int budget = pieces_per_turn; !pending_; --budget) {
    if (budget == 0) {
      more_buffered_ = true;  // come back at once
      return false;
    }
    auto piece = decoder_->next_piece();
    if (!piece) return true;
    const auto kind = piece->last ? proto::frame_kind::data : proto::frame_kind::data_part;
    proto::frame_header header{kind, epoch_, ++seq_, piece->next, piece->start};
    // The last piece of a large transaction sits in room reserved for a whole piece:
    // give that back before the byte budget counts it.
    if (piece->bytes.capacity() > 2 * piece->bytes.size() + 4096) piece->bytes.shrink_to_fit();
    pending_ = pending_message{header, std::move(piece->bytes), piece->last ? piece->wal_end : lsn()};
    flush_pending();  // when the subscribers are full it stays pending and reading stops
  }
  return false;
}

void stream::resolve_types() {
  if (!settings_.resolve_types) throw protocol_error("type names are needed and nothing can look them up");
  awaiting_types_ = true;
  settings_.resolve_types(
      decoder_->missing_types(),
      [this, alive = std::weak_ptr<std::uint64_t>(type_lookups_), asked = *type_lookups_](std::string error) {
        const auto token = alive.lock();
        if (!token || *token != asked || !awaiting_types_) return;  // the stream, or its epoch, is gone
        awaiting_types_ = false;
        more_buffered_ = true;  // read on at once
        if (!error.empty()) lose_connection("cannot look up column types: " + error, "");
      });
}

void stream::forget_decoding() {
  decoder_->reset();
  awaiting_types_ = false;
  ++*type_lookups_;  // an answer still coming belongs to what was forgotten
}

bool stream::flush_pending() {
  if (!sink_.publish(name_.str(), pending_->header, pending_->payload)) return false;
  // Only a message's last piece makes it acknowledgeable; and wal_end_ moves only once
  // it is out, or the idle flush position could confirm it before it is delivered.
  if (pending_->header.kind == proto::frame_kind::data) {
    delivered_ = std::max(delivered_, pending_->header.position);
    wal_end_ = std::max(wal_end_, pending_->wal_end);
  }
  pending_.reset();
  return true;
}

stream::ack_outcome stream::ack(std::uint64_t epoch, lsn position) {
  if (epoch != epoch_) return ack_outcome::stale_epoch;
  if (position > delivered_) return ack_outcome::beyond_delivered;
  if (position <= acked_) return ack_outcome::unchanged;
  acked_ = position;
  last_ack_time_ = clock::now();
  if (!settings_.journaled) status_due_ = true;  // else once the journal holds it
  return ack_outcome::accepted;
}

void stream::pause_until(clock::time_point until) {
  const bool resumed = paused() && until <= clock::now();
  paused_until_ = until;
  if (resumed) more_buffered_ = true;  // read on at once
}

void stream::durable(lsn position) {
  if (position <= durable_) return;
  durable_ = position;
  if (durable_ > flushed_) status_due_ = true;
}

lsn stream::confirmable_position() const {
  // With a journal, PostgreSQL confirms only what the journal holds: after a crash of
  // both, the journal is what keeps acknowledged changes from coming again.
  if (settings_.journaled && durable_ < acked_) return durable_;
  return idle_flush_position();
}

lsn stream::idle_flush_position() const {
  // Everything published has been acknowledged and nothing waits to be published: the
  // server has sent us nothing unprocessed up to its reported WAL end. A transaction
  // still open there commits past that point, so it is still delivered after a restart.
  // One whose chunks are still arriving is not processed either.
  if (pending_ || decoder_->in_transaction() || acked_ < delivered_) return acked_;
  return std::max(acked_, wal_end_);
}

void stream::send_status(bool reply_requested) {
  last_status_ = clock::now();
  status_due_ = false;
  if (!connected()) return;
  flushed_ = std::max(flushed_, confirmable_position());  // never backwards
  const standby_status status{std::max(received_, flushed_), flushed_, flushed_,
                              to_pg_time(std::chrono::system_clock::now()), reply_requested};
  connection_->send_status(status);
  wants_write_ = connection_->flush();
}

void stream::publish_heartbeat() {
  last_heartbeat_ = clock::now();
  proto::frame_header header{proto::frame_kind::heartbeat, epoch_, seq_, acked_, wal_end_};
  std::string none;
  // One refused under pressure is not kept: the next comes within a heartbeat interval,
  // and what a subscriber needs to know (the epoch, the last seq) the next one says too.
  sink_.publish(name_.str(), header, none);
}

clock::time_point stream::next_deadline() const {
  if (!connection_) return retry_at_;
  if (!streaming_) return start_deadline_;
  if (status_due_ || more_buffered_) return clock::now();
  if (gathering_) return gather_until_;
  if (paused()) return std::min(paused_until_, last_status_ + settings_.status_interval);
  const auto status_at = last_status_ + settings_.status_interval;
  // While a message waits for the subscribers no heartbeat goes out (step()): its
  // deadline would stay in the past and keep the loop from sleeping.
  if (pending_ || awaiting_audience_) return status_at;
  return std::min(status_at, last_heartbeat_ + settings_.heartbeat_interval);
}

}  // namespace deltastream::reader
