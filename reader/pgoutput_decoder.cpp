#include "reader/pgoutput_decoder.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::reader {

// Reads pgoutput's big-endian fields, throwing protocol_error past the end.
class pgoutput_decoder::cursor {
 public:
  explicit cursor(std::string_view bytes) : bytes_(bytes) {}
  std::uint8_t byte() { return static_cast<std::uint8_t>(take(1)[0]); }
  std::uint16_t int16() { return static_cast<std::uint16_t>(number(2)); }
  std::uint32_t int32() { return static_cast<std::uint32_t>(number(4)); }
  std::uint64_t int64() { return number(8); }
  std::string_view string() {  // NUL-terminated
    const auto end = bytes_.find('\0', at_);
    if (end == std::string_view::npos) throw protocol_error("pgoutput: unterminated string");
    const auto text = bytes_.substr(at_, end - at_);
    at_ = end + 1;
    return text;
  }
  std::string_view take(std::size_t count) {
    if (bytes_.size() - at_ < count) throw protocol_error("pgoutput: message cut short");
    const auto part = bytes_.substr(at_, count);
    at_ += count;
    return part;
  }

 private:
  std::uint64_t number(std::size_t size) {
    std::uint64_t value = 0;
    for (const char c : take(size)) value = (value << 8) | static_cast<std::uint8_t>(c);
    return value;
  }
  std::string_view bytes_;
  std::size_t at_ = 0;
};

namespace {

// TupleData: Int16 columns, then per column 'n' (null), 'u' (unchanged TOAST),
// or 't'/'b' Int32 length and the value's text (binary is never asked for).
tuple_values read_tuple(auto& in) {
  tuple_values values(in.int16());
  for (auto& value : values) {
    switch (const char kind = static_cast<char>(in.byte())) {
      case 'n': value.state = tuple_column::kind::null; break;
      case 'u': value.state = tuple_column::kind::unchanged; break;
      case 't':
        value.state = tuple_column::kind::text;
        value.text = in.take(in.int32());
        break;
      default: throw protocol_error(std::string("pgoutput: unknown tuple column kind '") + kind + "'");
    }
  }
  return values;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

}  // namespace

pgoutput_decoder::pgoutput_decoder(std::vector<std::string> publications, type_names& names,
                                   std::size_t part_bytes)
    : options_{{"proto_version", "1"}, {"publication_names", join(publications)}, {"messages", "true"}},
      names_(names),
      writer_(names),
      part_bytes_(part_bytes),
      body_(part_bytes) {}

void pgoutput_decoder::feed(const xlog_data& message) {
  if (draining_) throw protocol_error("pgoutput: fed before the last transaction was taken");
  cursor in(message.payload);
  const char tag = static_cast<char>(in.byte());
  if (open_) received_ += message.payload.size();
  switch (tag) {
    case 'B': return begin(in, message);
    case 'C': return commit(in, message);
    case 'R': return relation(in);
    case 'I': case 'U': case 'D': return change(tag, in);
    case 'M': return logical_message(in);
    case 'O': case 'Y': case 'T':
      // Origin, Type (format_type names types), Truncate: wal2json's format 1 writes
      // none of them (it leaves TRUNCATE out unless asked for by "actions").
      return;
    default: throw protocol_error(std::string("pgoutput: unknown message type '") + tag + "'");
  }
}

// Begin: Int64 final LSN | Int64 commit time | Int32 xid
void pgoutput_decoder::begin(cursor& in, const xlog_data& message) {
  if (open_) throw protocol_error("pgoutput: Begin inside a transaction");
  in.int64();
  open_ = true;
  start_ = message.data_start;
  received_ = message.payload.size();
  changes_ = 0;
  body_.clear();
}

// Commit: Int8 flags | Int64 commit LSN | Int64 end LSN | Int64 commit time. The end
// LSN (just past the commit record) is wal2json's "nextlsn".
void pgoutput_decoder::commit(cursor& in, const xlog_data& message) {
  if (!open_) throw protocol_error("pgoutput: Commit outside a transaction");
  in.byte();
  in.int64();
  next_ = lsn(in.int64());
  wal_end_ = message.wal_end;
  open_ = false;
  if (changes_ == 0) return;  // nothing wal2json would deliver
  draining_ = true;
  first_piece_ = true;
}

std::optional<message_piece> pgoutput_decoder::next_piece() {
  if (!draining_) return std::nullopt;
  message_piece piece{{}, next_, start_, false, wal_end_};
  if (first_piece_) {
    piece.bytes = "{\"nextlsn\":\"" + next_.to_string() + "\",\"change\":[";
    first_piece_ = false;
  }
  piece.bytes.reserve(piece.bytes.size() + std::min(body_.size(), part_bytes_) + 2);
  if (!body_.read(piece.bytes, part_bytes_)) {
    piece.bytes += "]}";
    piece.last = true;
    draining_ = false;
    body_.clear();
    received_ = 0;
  }
  return piece;
}

// Relation: Int32 id | String namespace ("" for pg_catalog) | String name |
// Int8 replica identity | Int16 columns, each Int8 flags (1: key) | String name |
// Int32 type OID | Int32 typmod
void pgoutput_decoder::relation(cursor& in) {
  const auto id = in.int32();
  relation_shape shape;
  shape.schema = in.string();
  if (shape.schema.empty()) shape.schema = "pg_catalog";
  shape.table = in.string();
  shape.replica_identity = static_cast<char>(in.byte());
  shape.columns.resize(in.int16());
  for (auto& column : shape.columns) {
    column.key = (in.byte() & 1) != 0;
    column.name = in.string();
    column.type.oid = in.int32();
    column.type.typmod = static_cast<std::int32_t>(in.int32());
  }
  relations_.insert_or_assign(id, std::move(shape));
  warned_.erase(id);
  described_ = id;
}

std::vector<type_key> pgoutput_decoder::missing_types() const {
  std::vector<type_key> missing;
  const auto found = relations_.find(described_);
  if (found == relations_.end()) return missing;
  for (const auto& column : found->second.columns) {
    const bool asked = std::find(missing.begin(), missing.end(), column.type) != missing.end();
    if (!asked && !names_.find(column.type)) missing.push_back(column.type);
  }
  return missing;
}

const relation_shape& pgoutput_decoder::find_relation(std::uint32_t id) const {
  const auto found = relations_.find(id);
  if (found == relations_.end()) {
    throw protocol_error("pgoutput: a change for relation " + std::to_string(id) + " before its Relation message");
  }
  return found->second;
}

std::string& pgoutput_decoder::next_change() {
  auto& out = body_.tail();
  if (changes_++ > 0) out.push_back(',');
  return out;
}

// Insert: Int32 relation | 'N' TupleData
// Update: Int32 relation | optional 'K' or 'O' TupleData (the old key or row) | 'N' TupleData
// Delete: Int32 relation | 'K' or 'O' TupleData
void pgoutput_decoder::change(char tag, cursor& in) {
  if (!open_) throw protocol_error("pgoutput: a change outside a transaction");
  const auto id = in.int32();
  const auto& relation = find_relation(id);
  auto kind = static_cast<char>(in.byte());
  if (tag != 'I' && !relation.has_identity()) {
    // wal2json leaves these out with a warning: there is no key to name the row by.
    if (warned_.insert(id).second) {
      module_logger("pgoutput")->warn("table \"{}\".\"{}\" has no primary key or replica identity: its "
                                      "UPDATEs and DELETEs are left out, as wal2json does",
                                      relation.schema, relation.table);
    }
    return;
  }
  if (tag == 'I') {
    if (kind != 'N') throw protocol_error("pgoutput: Insert without a new tuple");
    writer_.insert(next_change(), relation, read_tuple(in));
  } else if (tag == 'D') {
    if (kind != 'K' && kind != 'O') throw protocol_error("pgoutput: Delete without an old tuple");
    writer_.remove(next_change(), relation, read_tuple(in));
  } else {
    std::optional<tuple_values> old;
    if (kind == 'K' || kind == 'O') {
      old = read_tuple(in);
      kind = static_cast<char>(in.byte());
    }
    if (kind != 'N') throw protocol_error("pgoutput: Update without a new tuple");
    writer_.update(next_change(), relation, read_tuple(in), old ? &*old : nullptr);
  }
  body_.settle();
}

// Message: Int8 flags (1: transactional) | Int64 LSN | String prefix | Int32 length | content
void pgoutput_decoder::logical_message(cursor& in) {
  const bool transactional = (in.byte() & 1) != 0;
  in.int64();
  const auto prefix = in.string();
  const auto content = in.take(in.int32());
  // One outside a transaction has no commit position a consumer could acknowledge:
  // wal2json would send it without "nextlsn", which no v1 client can take.
  if (!transactional || !open_) return;
  wal2json_writer::message(next_change(), prefix, content);
  body_.settle();
}

void pgoutput_decoder::reset() {
  relations_.clear();
  warned_.clear();
  described_ = 0;
  open_ = draining_ = false;
  received_ = changes_ = 0;
  body_.clear();
}

}  // namespace deltastream::reader
