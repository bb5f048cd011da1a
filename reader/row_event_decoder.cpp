#include "reader/row_event_decoder.hpp"

#include <algorithm>
#include <ctime>

#include "common/errors.hpp"

namespace deltastream::reader {

namespace {

constexpr std::int64_t unix_to_postgres_epoch_seconds = 946'684'800;  // 1970-01-01 to 2000-01-01

// Floor division, so that a time before 2000 keeps a positive fraction.
std::int64_t floor_div(std::int64_t value, std::int64_t by) {
  return value / by - ((value % by != 0) && ((value < 0) != (by < 0)));
}

}  // namespace

std::string iso_timestamp(std::int64_t postgres_microseconds) {
  const auto seconds = floor_div(postgres_microseconds, 1'000'000);
  // Not postgres_microseconds - seconds * 1'000'000: that overflows just past INT64_MIN.
  auto fraction = postgres_microseconds % 1'000'000;
  if (fraction < 0) fraction += 1'000'000;
  const std::time_t unix_seconds = static_cast<std::time_t>(seconds + unix_to_postgres_epoch_seconds);
  std::tm utc{};
  gmtime_r(&unix_seconds, &utc);
  char text[64];
  auto size = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out(text, size);
  if (fraction != 0) {
    char digits[8];
    std::snprintf(digits, sizeof digits, ".%06lld", static_cast<long long>(fraction));
    std::string_view written(digits);
    while (written.back() == '0') written.remove_suffix(1);
    out += written;
  }
  return out + "+00:00";
}

row_event_decoder::row_event_decoder(std::string publication, type_names& types, std::size_t part_bytes)
    : options_{{"proto_version", "1"}, {"publication_names", std::move(publication)}},
      types_(types),
      part_bytes_(part_bytes) {}

void row_event_decoder::feed(const xlog_data& message) {
  pgoutput_cursor in(message.payload);
  const char tag = static_cast<char>(in.byte());
  if (open_) received_ += message.payload.size();
  switch (tag) {
    case 'B': return begin(in, message);
    case 'C': return commit(in, message);
    case 'R': {
      relation table;
      described_ = in.relation(table.shape);
      append_pg_json_string(table.name, table.shape.schema + "." + table.shape.table);
      relations_.insert_or_assign(described_, std::move(table));
      return;
    }
    case 'I': case 'U': case 'D': return change(tag, in);
    case 'T': return truncate(in);
    case 'O': case 'Y': case 'M': return;  // origins, types, messages: not a row's business
    default: throw protocol_error(std::string("pgoutput: unknown message type '") + tag + "'");
  }
}

// Begin: Int64 final LSN | Int64 commit time | Int32 xid
void row_event_decoder::begin(pgoutput_cursor& in, const xlog_data& message) {
  if (open_) throw protocol_error("pgoutput: Begin inside a transaction");
  commit_lsn_ = lsn(in.int64());
  commit_time_ = static_cast<std::int64_t>(in.int64());
  xid_ = in.int32();
  open_ = true;
  start_ = message.data_start;
  received_ = message.payload.size();
  changes_ = 0;
}

// Commit: Int8 flags | Int64 commit LSN | Int64 end LSN | Int64 commit time
void row_event_decoder::commit(pgoutput_cursor& in, const xlog_data& message) {
  if (!open_) throw protocol_error("pgoutput: Commit outside a transaction");
  in.byte();
  in.int64();
  const lsn end(in.int64());
  in.int64();  // the commit time again: read, so that a Commit cut short is refused
  open_ = false;
  if (changes_ == 0) return;
  if (!lines_.empty()) lines_.push_back('\n');
  auto& out = lines_;
  out += "{\"op\":\"commit\",\"xid\":" + std::to_string(xid_) + ",\"lsn\":\"" + end.to_string() +
         "\",\"changes\":" + std::to_string(changes_) + "}";
  ready_.push_back({std::move(lines_), end, start_, true, message.wal_end});
  lines_.clear();
  received_ = 0;
}

std::optional<message_piece> row_event_decoder::next_piece() {
  if (ready_.empty()) return std::nullopt;
  auto piece = std::move(ready_.front());
  ready_.pop_front();
  return piece;
}

std::vector<type_key> row_event_decoder::missing_types() const {
  std::vector<type_key> missing;
  const auto found = relations_.find(described_);
  if (found == relations_.end()) return missing;
  for (const auto& column : found->second.shape.columns) {
    const bool asked = std::find(missing.begin(), missing.end(), column.type) != missing.end();
    if (!asked && !types_.shape(column.type.oid)) missing.push_back(column.type);
  }
  return missing;
}

const row_event_decoder::relation& row_event_decoder::find(std::uint32_t id) {
  const auto found = relations_.find(id);
  if (found == relations_.end()) {
    throw protocol_error("pgoutput: a change for relation " + std::to_string(id) + " before its Relation message");
  }
  auto& table = found->second;
  if (table.values.size() != table.shape.columns.size()) {
    // The stream looked every type up before it fed the change (missing_types()).
    table.values.clear();
    for (const auto& column : table.shape.columns) {
      const auto* shape = types_.shape(column.type.oid);
      table.values.push_back(shape ? *shape : json_shape{});
    }
  }
  return table;
}

std::string& row_event_decoder::next_line() {
  if (changes_++ == 0) {  // the first change: the transaction begins
    lines_ += "{\"op\":\"begin\",\"xid\":" + std::to_string(xid_) + ",\"commit_lsn\":\"" + commit_lsn_.to_string() +
              "\",\"commit_time\":\"" + iso_timestamp(commit_time_) + "\"}";
  }
  if (!lines_.empty()) lines_.push_back('\n');
  return lines_;
}

void row_event_decoder::end_line() {
  if (lines_.size() < part_bytes_) return;
  // Not the last piece: its position is where the transaction commits, which nothing
  // acknowledges (only the last piece's end LSN is). It ends with a line break, so that
  // the pieces of a transaction concatenated are its lines.
  lines_.push_back('\n');
  ready_.push_back({std::move(lines_), commit_lsn_, start_, false, {}});
  lines_.clear();
}

void row_event_decoder::write_row(std::string& out, const relation& table, const tuple_values& row,
                                  bool keys_only) const {
  out.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < row.size() && i < table.shape.columns.size(); ++i) {
    const auto& column = table.shape.columns[i];
    if ((keys_only && !column.key) || row[i].state == tuple_column::kind::unchanged) continue;
    if (!first) out.push_back(',');
    first = false;
    append_pg_json_string(out, column.name);
    out.push_back(':');
    if (row[i].state == tuple_column::kind::null) {
      out += "null";
    } else {
      append_json_value(out, table.values[i], row[i].text);
    }
  }
  out.push_back('}');
}

// Insert: Int32 relation | 'N' TupleData
// Update: Int32 relation | optional 'K' (the old key) or 'O' (the old row) TupleData | 'N' TupleData
// Delete: Int32 relation | 'K' or 'O' TupleData
void row_event_decoder::change(char tag, pgoutput_cursor& in) {
  if (!open_) throw protocol_error("pgoutput: a change outside a transaction");
  const auto& table = find(in.int32());
  auto kind = static_cast<char>(in.byte());
  std::optional<tuple_values> old;
  if (tag != 'I' && (kind == 'K' || kind == 'O')) {
    old = in.tuple();
    if (tag == 'U') kind = static_cast<char>(in.byte());
  }
  if (tag == 'D' && !old) throw protocol_error("pgoutput: Delete without an old tuple");
  if (tag != 'D' && kind != 'N') throw protocol_error("pgoutput: Insert or Update without a new tuple");
  const auto row = tag == 'D' ? tuple_values{} : in.tuple();

  auto& out = next_line();
  out += tag == 'I' ? "{\"op\":\"insert\",\"table\":" : tag == 'U' ? "{\"op\":\"update\",\"table\":" : "{\"op\":\"delete\",\"table\":";
  out += table.name;
  if (tag != 'D') {
    out += ",\"new\":";
    write_row(out, table, row, false);
  }
  if (tag != 'I' && (old || table.shape.has_identity())) {
    // The old row under REPLICA IDENTITY FULL, else its key: the old one when the key
    // changed ('K'), the new row's when it did not (pgoutput then sends none).
    out += ",\"old\":";
    write_row(out, table, old ? *old : row, !old || table.shape.replica_identity != 'f');
  }
  std::string unchanged;
  for (std::size_t i = 0; i < row.size() && i < table.shape.columns.size(); ++i) {
    if (row[i].state != tuple_column::kind::unchanged) continue;
    unchanged.push_back(unchanged.empty() ? '[' : ',');
    append_pg_json_string(unchanged, table.shape.columns[i].name);
  }
  if (!unchanged.empty()) out += ",\"unchanged\":" + unchanged + "]";
  out.push_back('}');
  end_line();
}

// Truncate: Int32 relations | Int8 options (1: CASCADE, 2: RESTART IDENTITY) | Int32 relation each
void row_event_decoder::truncate(pgoutput_cursor& in) {
  if (!open_) throw protocol_error("pgoutput: Truncate outside a transaction");
  const auto count = in.int32();
  in.byte();
  auto& out = next_line();
  out += "{\"op\":\"truncate\",\"tables\":[";
  for (std::uint32_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back(',');
    out += find(in.int32()).name;
  }
  out += "]}";
  end_line();
}

void row_event_decoder::reset() {
  relations_.clear();
  described_ = 0;
  open_ = false;
  received_ = changes_ = 0;
  lines_.clear();
  ready_.clear();
}

}  // namespace deltastream::reader
