#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/lsn.hpp"
#include "proto/data_frame.hpp"

namespace deltastream::proto {

// A consumer's side of one stream, as proto/PROTOCOL.md "What a subscriber must check"
// says, without I/O: fed the stream's frames and the attach reply, it says which pieces
// to process and when the stream must be re-attached. The gateway and deltastream-tail
// both use it, so the rules live in one place.
//
// States: idle (frames are ignored) -> attaching() (frames are kept: the attach reply
// travels on another socket and may come after the epoch's first frames) -> attached()
// (following: each frame is checked) -> an event that ends it -> idle.
class subscription {
 public:
  enum class event_kind {
    piece,     // process it: a whole message, or a piece of one (`last` false)
    restart,   // another epoch, or the epoch ended: re-attach, it resumes after the last ACK
    gap,       // a frame was lost in transit: re-attach with restart
    dropped,   // the slot no longer exists: there is nothing to re-attach to
    overflow,  // more than the bound arrived before the attach reply: re-attach
  };
  struct event {
    event_kind kind = event_kind::piece;
    std::shared_ptr<const std::string> payload;  // piece
    lsn position;                                 // piece: what acknowledges its message
    bool last = true;                             // piece: the message's last piece
    std::uint64_t epoch = 0;                      // piece: the epoch to name in the ACK
    std::string reason;                           // the others: for people
  };

  explicit subscription(std::size_t max_attach_buffer_bytes = std::size_t{64} << 20);

  // An attach request went out: keep frames until attached(). An observer's attach joins
  // the epoch where it is, maybe in the middle of a message: it starts with the first
  // message whose beginning it saw (a consumer's attach with restart begins an epoch).
  void attaching(bool observer = false);
  // The reader answered the attach: what was kept is checked now. `ended_epoch` (the one
  // an attach with restart ended) may still send its tail: its frames are passed over.
  std::vector<event> attached(std::uint64_t epoch, std::uint64_t seq,
                              std::optional<std::uint64_t> ended_epoch = std::nullopt);
  // One frame of the stream: at most one event. After an event other than a piece the
  // subscription is idle until the next attaching().
  std::optional<event> feed(const frame_header& header, std::shared_ptr<const std::string> payload);
  // Stop following (the consumer left, or gave up): frames are ignored.
  void reset();

  bool is_attaching() const { return state_ == state::attaching; }
  bool following() const { return state_ == state::following; }
  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t seq() const { return seq_; }

 private:
  enum class state { idle, attaching, following };
  struct kept_frame {
    frame_header header;
    std::shared_ptr<const std::string> payload;
  };
  std::optional<event> check(const frame_header& header, std::shared_ptr<const std::string> payload);
  event end(event_kind kind, std::string reason);

  std::size_t max_attach_buffer_bytes_;
  state state_ = state::idle;
  std::uint64_t epoch_ = 0;
  std::uint64_t seq_ = 0;
  std::optional<std::uint64_t> ended_epoch_;
  bool observer_ = false;
  bool skipping_ = false;  // an observer's: the rest of a message it joined in the middle of
  std::vector<kept_frame> kept_;
  std::size_t kept_bytes_ = 0;
};

// Joins a message's pieces (data_part ... data) into the message, for consumers that
// want it whole. Fed only pieces that a subscription said to process, in order.
class message_assembler {
 public:
  struct message {
    std::string bytes;
    lsn position;
    std::uint64_t epoch = 0;
    bool last = true;  // false: a leading piece (subscriber_settings::join_pieces off)
  };
  // The whole message once its last piece came; nullopt before.
  std::optional<message> add(const subscription::event& piece);
  // Pieces of an interrupted message are thrown away: it comes again, whole.
  void reset() { bytes_.clear(); }

 private:
  std::string bytes_;
};

}  // namespace deltastream::proto
