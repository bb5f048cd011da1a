#pragma once

#include <deque>

#include "reader/change_decoder.hpp"

namespace deltastream::reader {

// wal2json with write-in-chunks: the walsender already writes the message, a chunk per
// change; this joins the chunks into pieces of about `part_bytes`, and leaves out
// transactions without row changes.
class wal2json_decoder final : public change_decoder {
 public:
  explicit wal2json_decoder(std::size_t part_bytes) : part_bytes_(part_bytes) {}

  // format-version 1 (pgdeltastream's shape) with "nextlsn", in chunks, so that neither
  // the walsender nor libpq nor the reader holds a huge transaction whole; the chunks
  // concatenated are byte for byte the message without them.
  static const replication_options& start_options();

  const replication_options& options() const override { return start_options(); }
  void feed(const xlog_data& message) override;
  std::optional<message_piece> next_piece() override;
  bool in_transaction() const override { return open_ || !ready_.empty(); }
  std::size_t transaction_bytes() const override { return received_; }
  void reset() override;

 private:
  void cut(bool last, lsn wal_end);

  const std::size_t part_bytes_;
  bool open_ = false;   // a first chunk came, the closing one not yet
  bool split_ = false;  // a piece went out: the rest goes out in pieces too
  lsn next_;
  lsn start_;
  std::size_t received_ = 0;
  std::string bytes_;  // chunks received and not yet cut into a piece
  std::deque<message_piece> ready_;
};

}  // namespace deltastream::reader
