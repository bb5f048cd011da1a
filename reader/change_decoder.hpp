#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/lsn.hpp"
#include "reader/replication_message.hpp"
#include "reader/replication_source.hpp"
#include "reader/type_names.hpp"

namespace deltastream::reader {

// One piece of a transaction's wal2json message, in order: the pieces of a message
// concatenated are the message byte for byte.
struct message_piece {
  std::string bytes;
  lsn next;      // the transaction's "nextlsn": what a consumer acknowledges
  lsn start;     // where the transaction's first XLogData began
  bool last = false;  // completes the message (a data frame; else a data_part)
  lsn wal_end;        // with `last`: the wal_end of the XLogData that completed it
};

// Turns the XLogData payloads of one replication connection into wal2json format 1
// messages (one per transaction with changes), whatever the slot's output plugin. The
// stream keeps the connection and the LSN bookkeeping; a decoder keeps no I/O, so that
// unit tests feed it recorded bytes. Malformed bytes throw protocol_error.
class change_decoder {
 public:
  virtual ~change_decoder() = default;

  // The START_REPLICATION options this decoder reads.
  virtual const replication_options& options() const = 0;
  // Takes one XLogData message.
  virtual void feed(const xlog_data& message) = 0;
  // The next piece to publish, or nullopt until more is fed.
  virtual std::optional<message_piece> next_piece() = 0;
  // A transaction has begun and its last piece was not taken yet.
  virtual bool in_transaction() const = 0;
  // Bytes received of the transaction in progress (it is large past a few pieces).
  virtual std::size_t transaction_bytes() const = 0;
  // Type names the decoder needs (into its type_names) before it is fed more.
  virtual std::vector<type_key> missing_types() const { return {}; }
  // A new connection: whatever was in progress is sent again from the start.
  virtual void reset() = 0;
};

}  // namespace deltastream::reader
