#include "proto/jetstream/message_mapper.hpp"

#include "common/errors.hpp"
#include "proto/jetstream/subject_token.hpp"

namespace deltastream::jetstream {

namespace {

constexpr std::string_view row_stream_prefix = "delta_v2_";

}  // namespace

message_mapper::message_mapper(std::string stream, std::string subject_prefix)
    : stream_(std::move(stream)), rows_(stream_.starts_with(row_stream_prefix)) {
  const auto name = rows_ ? std::string_view(stream_).substr(row_stream_prefix.size()) : std::string_view(stream_);
  base_ = subject_prefix + "." + subject_token(name);
}

void message_mapper::map(std::string_view piece, lsn position, bool last, std::vector<outgoing_message>& out) {
  if (!rows_) {
    // wal2json sends a transaction as one message: it is published whole, its own commit.
    open_ = open_transaction{position, 0, 0};
    add(base_, std::string(piece), out);
    out.back().xid.reset();
    open_.reset();
    return;
  }
  while (!piece.empty()) {
    const auto end = piece.find('\n');
    map_line(piece.substr(0, end), out);
    piece = end == std::string_view::npos ? std::string_view() : piece.substr(end + 1);
  }
  if (last && open_) {
    throw protocol_error("stream " + stream_ + ": the transaction at " + open_->commit.to_string() +
                         " ended without its commit line");
  }
}

void message_mapper::map_line(std::string_view line, std::vector<outgoing_message>& out) {
  if (line.empty()) return;
  simdjson::dom::element event;
  std::string_view op;
  if (parser_.parse(line.data(), line.size()).get(event) || event["op"].get_string().get(op)) {
    throw protocol_error("stream " + stream_ + ": a line that is not an event: " + std::string(line.substr(0, 200)));
  }
  if (op == "begin") {
    std::string_view commit_text;
    std::uint64_t xid = 0;
    if (event["commit_lsn"].get_string().get(commit_text) || event["xid"].get_uint64().get(xid)) {
      throw protocol_error("stream " + stream_ + ": a begin without commit_lsn or xid");
    }
    const auto commit = lsn::parse(commit_text);
    if (!commit) throw protocol_error("stream " + stream_ + ": a begin's commit_lsn is not an LSN");
    // A begin inside a transaction: its rest was lost with a re-attach; this one starts over.
    open_ = open_transaction{*commit, xid, 0};
    add(base_ + "._tx", std::string(line), out);
    return;
  }
  if (!open_) throw protocol_error("stream " + stream_ + ": a \"" + std::string(op) + "\" outside a transaction");
  if (op == "commit") {
    add(base_ + "._tx", std::string(line), out);
    open_.reset();
    return;
  }
  if (op == "truncate") {
    simdjson::dom::array tables;
    if (event["tables"].get_array().get(tables)) throw protocol_error("stream " + stream_ + ": a truncate without tables");
    for (const auto table : tables) {
      std::string_view name;
      if (table.get_string().get(name)) throw protocol_error("stream " + stream_ + ": a truncate's table is not a string");
      add(table_subject(name), "{\"op\":\"truncate\",\"tables\":[" + simdjson::minify(table) + "]}", out);
    }
    return;
  }
  std::string_view table;
  if (event["table"].get_string().get(table)) {
    // An event this build does not know, without a table: kept with its transaction.
    add(base_ + "._tx", std::string(line), out);
    return;
  }
  add(table_subject(table), std::string(line), out);
}

void message_mapper::add(std::string subject, std::string payload, std::vector<outgoing_message>& out) {
  auto& transaction = *open_;
  auto& message = out.emplace_back();
  message.subject = std::move(subject);
  message.id = stream_ + ":" + transaction.commit.to_string() + ":" + std::to_string(transaction.index++);
  message.payload = std::move(payload);
  message.commit = transaction.commit;
  message.xid = transaction.xid;
}

// "schema.table" as the reader writes it: the schema ends at the first dot.
std::string message_mapper::table_subject(std::string_view qualified) const {
  const auto dot = qualified.find('.');
  if (dot == std::string_view::npos) return base_ + "." + subject_token(qualified);
  return base_ + "." + subject_token(qualified.substr(0, dot)) + "." + subject_token(qualified.substr(dot + 1));
}

}  // namespace deltastream::jetstream
