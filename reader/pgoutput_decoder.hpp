#pragma once

#include <cstdint>
#include <map>
#include <set>

#include "reader/change_decoder.hpp"
#include "reader/pgoutput_cursor.hpp"
#include "reader/spill_buffer.hpp"
#include "reader/wal2json_writer.hpp"

namespace deltastream::reader {

// pgoutput, protocol version 1 (PostgreSQL docs, "Logical Replication Message Formats"),
// written as the wal2json messages the wal2json plugin would send for the same
// transactions, so that every client and tool works unchanged on a PostgreSQL without
// wal2json. Relations are cached as their Relation messages describe them, each new one
// replacing the last (DDL changes a table's shape mid-stream); a transaction's changes
// wait in a spill_buffer for its Commit, which carries the "nextlsn" its message begins with.
class pgoutput_decoder final : public change_decoder {
 public:
  // `publications`: what START_REPLICATION asks for (publication_names).
  pgoutput_decoder(std::vector<std::string> publications, type_names& names, std::size_t part_bytes);

  const replication_options& options() const override { return options_; }
  void feed(const xlog_data& message) override;
  std::optional<message_piece> next_piece() override;
  bool in_transaction() const override { return open_ || draining_; }
  std::size_t transaction_bytes() const override { return received_; }
  std::vector<type_key> missing_types() const override;
  void reset() override;

 private:
  void begin(pgoutput_cursor& in, const xlog_data& message);
  void commit(pgoutput_cursor& in, const xlog_data& message);
  void relation(pgoutput_cursor& in);
  void change(char tag, pgoutput_cursor& in);
  void logical_message(pgoutput_cursor& in);
  const relation_shape& find_relation(std::uint32_t id) const;
  std::string& next_change();  // where the next change object goes, after its comma

  replication_options options_;
  type_names& names_;
  wal2json_writer writer_;
  const std::size_t part_bytes_;
  std::map<std::uint32_t, relation_shape> relations_;
  std::uint32_t described_ = 0;  // the relation the last Relation message described
  std::set<std::uint32_t> warned_;  // relations whose dropped changes were logged

  bool open_ = false;      // between Begin and Commit
  bool draining_ = false;  // committed: pieces are being taken
  bool first_piece_ = true;
  lsn start_;
  lsn next_;
  lsn wal_end_;
  std::size_t received_ = 0;
  std::size_t changes_ = 0;
  spill_buffer body_;  // the change objects, comma separated
};

}  // namespace deltastream::reader
