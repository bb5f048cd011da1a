#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "common/lsn.hpp"

namespace deltastream::jetstream {

// What acknowledges a transaction to the reader: its position in its epoch.
struct ack_point {
  lsn position;
  std::uint64_t epoch = 0;
};

// Which transactions JetStream has stored, whole and in order, so that the reader is
// ACKed a transaction only once every message of it and of every transaction before it
// was acknowledged by JetStream: never before. The output's thread records what it
// sends; NATS's thread records JetStream's answers (hence the lock).
class publish_ledger {
 public:
  // One more message of the transaction `commit` is in flight (the first opens it).
  void sent(lsn commit);
  // The transaction's messages are all sent; `ack` acknowledges it once they are stored.
  // A transaction with no message (none opened) is stored at once.
  void closed(lsn commit, ack_point ack);
  // A message that did not go out after all: no answer will come for it.
  void withdrawn(lsn commit);
  // From JetStream's answers, for messages sent in `generation`. One from an earlier
  // generation (sent before a reset) is ignored: the same transaction may be in flight
  // again, and only its own answers count.
  void stored(std::uint64_t generation, lsn commit);
  void refused(std::uint64_t generation, lsn commit, std::string why);

  // The newest transaction stored with all before it, which it removes (with them).
  std::optional<ack_point> take_stored();
  // The first refusal since the last reset: nothing after it is ACKed.
  std::optional<std::string> failure() const;
  std::size_t transactions() const;
  // Forget everything and start a new generation (the publisher is replaced).
  void reset();
  std::uint64_t generation() const;

 private:
  struct transaction {
    lsn commit;
    std::uint64_t in_flight = 0;
    std::optional<ack_point> ack;  // set once closed
  };
  transaction* find(lsn commit);

  mutable std::mutex mutex_;
  std::deque<transaction> transactions_;  // in publish order
  std::optional<std::string> failure_;
  std::uint64_t generation_ = 0;
};

}  // namespace deltastream::jetstream
