#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/backoff.hpp"
#include "common/lsn.hpp"
#include "common/stream_name.hpp"
#include "reader/epoch_clock.hpp"
#include "proto/stream_end.hpp"
#include "reader/change_decoder.hpp"
#include "reader/end_outbox.hpp"
#include "reader/publisher.hpp"
#include "reader/replication_source.hpp"

namespace deltastream::reader {

using clock = std::chrono::steady_clock;

struct stream_settings {
  replication_source_factory connect;  // a replication connection for a slot
  // Connecting and START_REPLICATION together: past it, the attempt is given up and
  // retried with backoff (libpq's connect_timeout does not apply to a non-blocking connect).
  std::chrono::milliseconds start_timeout{10'000};
  std::chrono::milliseconds status_interval{10'000};
  std::chrono::milliseconds heartbeat_interval{1'000};
  std::size_t max_messages_per_turn = 256;  // fairness between streams in one loop
  // A transaction larger than this is published in pieces of about this size
  // (data_part frames), so that no process ever holds it whole.
  std::size_t message_part_bytes = 256 << 10;
  // A socket drained in the middle of a transaction is read again only after
  // gather_delay: the walsender sends each of its chunks (write-in-chunks) on its own,
  // and waking for each, then for the keepalive, cost the reader a wake-up and the
  // walsender the send that woke it, per chunk. The rest of a small transaction is
  // microseconds behind its first chunk, so that wait is short; in a large one (from
  // gather_after_bytes on), whose changes stream for a while, it is longer. On 2 cores,
  // where the walsender is short of CPU, this took the p99 at 5,000 single-row
  // transactions/s from 47-137 ms to 3-9 ms, and a bulk drain's reader CPU to a fifth.
  // Measured with the kernel's default timer slack (50 us), which makes the short wait
  // 40-90 us: with a slack of 1 us that p99 was 0.2-3 s, the rest not yet there.
  std::chrono::microseconds gather_delay{40};
  std::size_t gather_after_bytes = 16 << 10;
  std::chrono::microseconds large_gather_delay{250};
  std::chrono::microseconds max_gather_delay{2000};
  // With an ack_journal: PostgreSQL is told only positions the journal holds (durable()).
  bool journaled = false;
  // Looks up type names a decoder is missing (into the type_names it reads) and calls
  // back with an empty string, or with why it could not; never blocks.
  using type_answer = std::function<void(std::string error)>;
  std::function<void(std::vector<type_key>, type_answer)> resolve_types;
};

// One attached stream: the receivelog.c role for one slot. Reads CopyData from its
// replication connection, has its decoder (the slot's plugin) make each transaction's
// wal2json message, publishes it whole, or in pieces when it is large, with epoch and sequence,
// answers keepalives and reports the acknowledged LSN as the flush position. Survives
// a lost connection by reconnecting with backoff from the acknowledged position.
class stream {
 public:
  stream(stream_name name, lsn committed, std::unique_ptr<change_decoder> decoder,
         const stream_settings& settings, message_sink& sink, end_outbox& ends, epoch_clock& epochs);
  ~stream();

  // Starts connecting (never blocks): streaming() once PostgreSQL answered
  // START_REPLICATION, which opens a new epoch, whose first frame waits until a
  // subscriber would receive it (message_sink::reaches, with `marker`). A failed start
  // is retried with backoff, like a lost connection; start_failure() says why.
  void start(std::string_view marker = {});

  // What poll() said of the stream's socket.
  struct socket_ready {
    bool readable = false;  // also an error or a hang-up
    bool writable = false;
  };
  // One loop turn: (re)connect if due, read what arrived, send status and heartbeats.
  void step(clock::time_point now, socket_ready ready);

  // An ACK counts only for the epoch it names: the messages it acknowledges were
  // delivered in that epoch, and an epoch that is over may have been replaced by a
  // restart from an earlier position (a takeover) that the ACK must not skip.
  enum class ack_outcome { accepted, unchanged, stale_epoch, beyond_delivered };
  ack_outcome ack(std::uint64_t epoch, lsn position);
  // The ack_journal holds `position` durably: PostgreSQL may confirm up to it.
  void durable(lsn position);
  // The consumer is behind: publish nothing more (heartbeats go on) until `until`;
  // a time point in the past goes on at once.
  void pause_until(clock::time_point until);
  bool paused() const { return clock::now() < paused_until_; }

  // Ends streaming: a final status update, then a stream_end frame with `code` and `reason`.
  void stop(proto::end_code code, const std::string& reason);

  const stream_name& name() const { return name_; }
  bool connected() const { return connection_ != nullptr && streaming_; }  // streaming
  // Also while waiting for the slot's previous walsender to exit (see lose_connection).
  bool starting() const { return (connection_ != nullptr && !streaming_) || awaiting_release_; }
  // Why the last start failed (the stream retries it): empty while none has.
  const std::string& start_failure() const { return start_failure_; }
  bool gone() const { return gone_; }  // the slot no longer exists: detach it
  int socket() const { return connection_ ? connection_->socket() : -1; }
  bool wants_write() const {
    return starting() ? start_wait_ == replication_source::wait_for::writable : wants_write_;
  }
  // False while a message waits for the subscribers, while gathering, or while nobody
  // would receive the epoch's first frame.
  bool wants_read() const {
    if (starting()) return start_wait_ == replication_source::wait_for::readable;
    return !pending_ && !gathering_ && !awaiting_audience_ && !awaiting_types_ && !paused();
  }
  bool awaiting_subscriber() const { return connection_ && awaiting_audience_; }
  bool has_pending() const { return pending_.has_value(); }  // waits for the subscribers
  clock::time_point next_deadline() const;

  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t seq() const { return seq_; }
  lsn acked() const { return acked_; }
  lsn flushed() const { return flushed_; }
  lsn delivered() const { return delivered_; }
  // Where streaming resumes: everything up to it was acknowledged (or passed while idle).
  lsn resume_position() const { return std::max(acked_, flushed_); }
  lsn wal_end() const { return wal_end_; }
  clock::time_point last_ack_time() const { return last_ack_time_; }  // or the attach
  std::uint64_t reconnects() const { return reconnects_; }

 private:
  void connect();
  void advance_start(clock::time_point now, socket_ready ready);
  void begin_epoch();
  void read_messages(bool after_wait);
  void start_gathering();
  // Both false while pieces wait: for the subscribers, for type names, or for the next turn.
  bool handle_xlog_data(const xlog_data& message);
  bool publish_pieces();
  void resolve_types();
  void forget_decoding();
  bool flush_pending();
  void send_status(bool reply_requested);
  lsn idle_flush_position() const;
  lsn confirmable_position() const;
  void publish_heartbeat();
  void check_audience();
  void publish_stream_end(proto::end_code code, const std::string& reason);
  void lose_connection(const std::string& reason, const std::string& sqlstate);

  stream_name name_;
  const stream_settings& settings_;
  message_sink& sink_;
  end_outbox& ends_;  // stream_end frames go out even after the stream is gone
  epoch_clock& epochs_;
  std::unique_ptr<replication_source> connection_;
  bool streaming_ = false;  // START_REPLICATION answered
  std::optional<replication_source::wait_for> start_wait_;
  clock::time_point start_deadline_{};
  lsn start_from_;
  std::string start_failure_;

  std::uint64_t epoch_ = 0;
  std::uint64_t seq_ = 0;
  lsn acked_;      // what the consumer confirmed
  lsn flushed_;    // the flush position reported: acked_, or the WAL end when idle
  lsn delivered_;  // highest position published in this epoch: acks beyond it are refused
  lsn durable_;    // what the ack_journal holds (with settings_.journaled)
  lsn received_;   // highest WAL position received; sent as write position
  lsn wal_end_;    // server's WAL end from the last keepalive, or from the last XLogData
                   // that is published (a message still pending must not be passed)
  bool status_due_ = false;
  bool wants_write_ = false;
  bool gone_ = false;
  bool awaiting_audience_ = false;  // the epoch's first frame waits for a subscriber
  std::string audience_marker_;
  bool more_buffered_ = false;  // stopped at the turn's budget: come back at once
  bool gathering_ = false;      // mid-transaction: read again at gather_until_
  clock::time_point gather_until_{};
  int gather_misses_ = 0;  // waits in a row that brought nothing: each waits twice as long

  std::unique_ptr<change_decoder> decoder_;
  // Reading waits while the decoder's missing type names are looked up. The flag is
  // shared with the lookup's callback, which may outlive the stream.
  bool awaiting_types_ = false;
  clock::time_point paused_until_{};  // the consumer's pause: reading and publishing wait
  std::shared_ptr<std::uint64_t> type_lookups_ = std::make_shared<std::uint64_t>(0);

  struct pending_message {
    proto::frame_header header;
    std::string payload;
    lsn wal_end;  // becomes wal_end_ once published, not before (0/0 for a piece)
  };
  std::optional<pending_message> pending_;  // published when the subscribers have room

  clock::time_point last_status_{};
  clock::time_point last_heartbeat_{};
  clock::time_point retry_at_{};
  // A start refused because the slot is still active (its previous walsender, ours, is
  // exiting after a detach or a lost connection) is tried again shortly until then.
  clock::time_point release_deadline_{};
  bool awaiting_release_ = false;
  clock::time_point last_ack_time_ = clock::now();
  std::uint64_t reconnects_ = 0;
  backoff backoff_;
};

}  // namespace deltastream::reader
