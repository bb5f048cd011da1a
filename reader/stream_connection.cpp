#include "reader/stream.hpp"

#include "common/errors.hpp"
#include "common/logging.hpp"

// How a stream connects, reconnects after a loss, and stops: one START_REPLICATION per
// epoch, never waiting on PostgreSQL (the loop polls the connection).
namespace deltastream::reader {

namespace {

// SQLSTATE undefined_object: START_REPLICATION on a slot that does not exist.
constexpr std::string_view slot_missing_state = "42704";
// SQLSTATE object_in_use: the slot is active for another walsender.
constexpr std::string_view slot_active_state = "55006";
// How long a start waits for the slot's previous walsender to exit, and how often it
// looks: an exiting walsender lets go within milliseconds, a loaded machine's in seconds.
constexpr auto slot_release_wait = std::chrono::seconds(5);
constexpr auto slot_release_poll = std::chrono::milliseconds(20);

}  // namespace

void stream::start(std::string_view marker) {
  audience_marker_ = std::string(marker);
  release_deadline_ = clock::now() + slot_release_wait;
  connect();
}

void stream::connect() {
  // Start from what the consumer acknowledged (the slot's confirmed_flush_lsn at attach,
  // or a later ACK, also one that came while the connection was down): PostgreSQL resends
  // every transaction committed after it and skips those before it, even when its own
  // confirmed_flush_lsn rewound in a crash (it is written to disk only at checkpoints).
  start_from_ = resume_position();
  streaming_ = false;
  awaiting_release_ = false;
  start_wait_.reset();
  start_deadline_ = clock::now() + settings_.start_timeout;
  try {
    connection_ = settings_.connect(name_.str(), start_from_, decoder_->options());
    advance_start(clock::now(), {});
  } catch (const pg_error& error) {
    lose_connection(error.what(), error.sqlstate());
  }
}

void stream::advance_start(clock::time_point now, socket_ready ready) {
  const bool due = !start_wait_ ||
                   (*start_wait_ == replication_source::wait_for::readable && ready.readable) ||
                   (*start_wait_ == replication_source::wait_for::writable && ready.writable);
  if (due) {
    start_wait_ = connection_->poll_start();
    if (!start_wait_) return begin_epoch();
  }
  if (now >= start_deadline_) {
    throw pg_error("PostgreSQL did not answer within " +
                       std::to_string(settings_.start_timeout.count() / 1000) + " s (connect_timeout)",
                   "08006");
  }
}

void stream::lose_connection(const std::string& reason, const std::string& sqlstate) {
  const bool was_streaming = connected();
  start_wait_.reset();
  if (!was_streaming && sqlstate == slot_active_state && clock::now() < release_deadline_) {
    // Still starting: an attach waits for the walsender to go rather than fail.
    connection_.reset();
    awaiting_release_ = true;
    retry_at_ = clock::now() + slot_release_poll;
    module_logger("stream")->debug("{}: {}; trying again", name_.str(), reason);
    return;
  }
  awaiting_release_ = false;
  if (was_streaming) ++reconnects_;
  if (!was_streaming) start_failure_ = reason;
  connection_.reset();
  streaming_ = false;
  pending_.reset();  // never published: the next start, from resume_position(), sends it again
  forget_decoding();
  wants_write_ = false;
  more_buffered_ = false;
  gathering_ = false;
  gather_misses_ = 0;
  // A slot dropped under a stream is usually found on the reconnect after its walsender
  // was terminated, when nothing is streaming: say so then too, once.
  const bool vanished = sqlstate == slot_missing_state && !gone_;
  if (vanished) gone_ = true;
  const auto delay = backoff_.next();
  retry_at_ = clock::now() + delay;
  module_logger("stream")->warn("{}: {}; {}", name_.str(), reason,
                                gone_ ? "slot is gone, detaching"
                                      : "reconnecting in " + std::to_string(delay.count()) + " ms");
  if (vanished) {
    publish_stream_end(proto::end_code::dropped, reason);
  } else if (was_streaming) {
    publish_stream_end(proto::end_code::connection_lost, reason);
  }
}

void stream::publish_stream_end(proto::end_code code, const std::string& reason) {
  proto::frame_header header{proto::frame_kind::stream_end, epoch_, seq_, acked_, wal_end_};
  ends_.publish(sink_, name_.str(), header, proto::encode_stream_end(code, reason));
}

void stream::stop(proto::end_code code, const std::string& reason) {
  if (!connected()) {
    connection_.reset();  // a start in progress: no epoch began, nobody to tell
    return;
  }
  try {
    send_status(false);  // the last ACK reaches PostgreSQL before we go
  } catch (const pg_error& error) {
    module_logger("stream")->warn("{}: final status not sent: {}", name_.str(), error.what());
  }
  connection_.reset();
  publish_stream_end(code, reason);
  module_logger("stream")->info("{}: stopped at {} ({})", name_.str(), flushed_.to_string(), reason);
}

}  // namespace deltastream::reader
