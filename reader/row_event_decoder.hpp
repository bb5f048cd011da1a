#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "reader/change_decoder.hpp"
#include "reader/json_value_writer.hpp"
#include "reader/pgoutput_cursor.hpp"

namespace deltastream::reader {

// A row stream's pgoutput (protocol 1) as one JSON object per event, a line each:
//   {"op":"begin","xid":745,"commit_lsn":"0/16D3B10","commit_time":"2026-12-02T17:00:00.123456+00:00"}
//   {"op":"insert","table":"public.orders","new":{...}}
//   {"op":"update","table":"public.orders","new":{...},"old":{...},"unchanged":["doc"]}
//   {"op":"delete","table":"public.orders","old":{...}}
//   {"op":"truncate","tables":["public.orders"]}
//   {"op":"commit","xid":745,"lsn":"0/16D3B40","changes":3}
// Values are written as to_json writes them (json_value_writer), so that a change and a
// snapshot row are the same object. A piece is whole lines of about part_bytes, each
// ended by '\n' but the commit's, which ends the last piece, whose position ("lsn", the commit's
// end) acknowledges the transaction. No transaction is ever held whole: rows go out as
// they come, and nothing needs the end LSN before the commit line. A transaction whose
// changes the publication filtered away entirely sends nothing.
class row_event_decoder final : public change_decoder {
 public:
  // `types`: how to_json writes each column type (user-defined ones looked up first).
  row_event_decoder(std::string publication, type_names& types, std::size_t part_bytes);

  const replication_options& options() const override { return options_; }
  void feed(const xlog_data& message) override;
  std::optional<message_piece> next_piece() override;
  bool in_transaction() const override { return open_ || !ready_.empty(); }
  std::size_t transaction_bytes() const override { return received_; }
  std::vector<type_key> missing_types() const override;
  void reset() override;

 private:
  struct relation {
    relation_shape shape;
    std::vector<json_shape> values;  // per column, once every type's shape is known
    std::string name;                // "schema.table" as a JSON string
  };
  void begin(pgoutput_cursor& in, const xlog_data& message);
  void commit(pgoutput_cursor& in, const xlog_data& message);
  void change(char tag, pgoutput_cursor& in);
  void truncate(pgoutput_cursor& in);
  const relation& find(std::uint32_t id);
  // Opens a change's line (after the begin line, for the first), after the last one.
  std::string& next_line();
  void end_line();           // a piece is ready once the lines reach part_bytes
  // `keys_only`: the replica identity's columns; nulls written as null.
  void write_row(std::string& out, const relation& table, const tuple_values& row, bool keys_only) const;

  replication_options options_;
  type_names& types_;
  const std::size_t part_bytes_;
  std::map<std::uint32_t, relation> relations_;
  std::uint32_t described_ = 0;  // the relation the last Relation message described

  bool open_ = false;
  std::uint32_t xid_ = 0;
  lsn commit_lsn_;  // the commit record's start (Begin's final LSN)
  std::int64_t commit_time_ = 0;  // microseconds since 2000-01-01 UTC
  lsn start_;
  std::size_t received_ = 0;
  std::size_t changes_ = 0;
  std::string lines_;  // whole lines not yet in a piece
  std::deque<message_piece> ready_;
};

// PostgreSQL's commit timestamp (microseconds since 2000-01-01 UTC) as to_json writes a
// timestamptz in UTC: 2026-12-02T17:00:00.123456+00:00, trailing zeros of the fraction cut.
std::string iso_timestamp(std::int64_t postgres_microseconds);

}  // namespace deltastream::reader
