#include "reader/wal2json_decoder.hpp"

#include "common/errors.hpp"
#include "reader/wal2json_message.hpp"

namespace deltastream::reader {

const replication_options& wal2json_decoder::start_options() {
  static const replication_options options = {
      {"format-version", "1"},
      {"include-lsn", "on"},
      {"pretty-print", "off"},
      {"write-in-chunks", "on"},
  };
  return options;
}

void wal2json_decoder::feed(const xlog_data& message) {
  const bool first_chunk = !open_;
  if (first_chunk) {
    const auto next = wal2json_next_lsn(message.payload);
    if (!next && wal2json_is_standalone(message.payload)) {
      // A non-transactional logical decoding message: {"change":[{"kind":"message",...}]}
      // with no commit position a consumer could acknowledge. Passing it on would leave
      // every v1 client without a "nextlsn"; failing on it would stop the stream for good.
      return;
    }
    if (!next) {
      throw protocol_error("wal2json message at " + message.data_start.to_string() +
                           " has no \"nextlsn\"");
    }
    open_ = true;
    split_ = false;
    next_ = *next;
    start_ = message.data_start;
    received_ = 0;
  }
  received_ += message.payload.size();
  if (split_ && bytes_.capacity() < part_bytes_) {
    // A piece of a large transaction went out, so the next is as large: room for it at
    // once, not grown by doubling, which copied each piece about twice more.
    bytes_.reserve(part_bytes_ + message.payload.size());
  }
  bytes_.append(message.payload);
  if (!wal2json_ends_message(message.payload, first_chunk)) {
    if (bytes_.size() >= part_bytes_) cut(false, lsn());
    return;
  }
  open_ = false;
  // Transactions without row changes (DDL, autovacuum) carry nothing to deliver; were
  // they sent, a consumer that does not ACK them would pin the slot (wal2json#104).
  if (!split_ && wal2json_is_empty(bytes_)) {
    bytes_.clear();
    return;
  }
  cut(true, message.wal_end);
}

void wal2json_decoder::cut(bool last, lsn wal_end) {
  ready_.push_back({std::move(bytes_), next_, start_, last, wal_end});
  bytes_ = std::string();
  split_ = !last;
}

std::optional<message_piece> wal2json_decoder::next_piece() {
  if (ready_.empty()) return std::nullopt;
  auto piece = std::move(ready_.front());
  ready_.pop_front();
  return piece;
}

void wal2json_decoder::reset() {
  open_ = split_ = false;
  received_ = 0;
  bytes_.clear();
  ready_.clear();
}

}  // namespace deltastream::reader
