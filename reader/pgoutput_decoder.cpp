#include "reader/pgoutput_decoder.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "reader/pgoutput_cursor.hpp"

namespace deltastream::reader {

namespace {

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
  pgoutput_cursor in(message.payload);
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
void pgoutput_decoder::begin(pgoutput_cursor& in, const xlog_data& message) {
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
void pgoutput_decoder::commit(pgoutput_cursor& in, const xlog_data& message) {
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

void pgoutput_decoder::relation(pgoutput_cursor& in) {
  relation_shape shape;
  const auto id = in.relation(shape);
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
void pgoutput_decoder::change(char tag, pgoutput_cursor& in) {
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
    writer_.insert(next_change(), relation, in.tuple());
  } else if (tag == 'D') {
    if (kind != 'K' && kind != 'O') throw protocol_error("pgoutput: Delete without an old tuple");
    writer_.remove(next_change(), relation, in.tuple());
  } else {
    std::optional<tuple_values> old;
    if (kind == 'K' || kind == 'O') {
      old = in.tuple();
      kind = static_cast<char>(in.byte());
    }
    if (kind != 'N') throw protocol_error("pgoutput: Update without a new tuple");
    writer_.update(next_change(), relation, in.tuple(), old ? &*old : nullptr);
  }
  body_.settle();
}

// Message: Int8 flags (1: transactional) | Int64 LSN | String prefix | Int32 length | content
void pgoutput_decoder::logical_message(pgoutput_cursor& in) {
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
