#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/lsn.hpp"

namespace deltastream::jetstream {

// One JetStream message to publish.
struct outgoing_message {
  std::string subject;
  std::string id;       // Nats-Msg-Id: <slot>:<commit lsn>:<index>, the same on every replay
  std::string payload;
  lsn commit;           // its transaction's (header Deltastream-Lsn)
  std::optional<std::uint64_t> xid;  // header Deltastream-Xid (row streams)
};

// Turns what one deltastream stream delivers into JetStream messages, without I/O.
//   v1 stream (a wal2json message a transaction): one message on <prefix>.<slot>, its
//     commit the message's position (wal2json's nextlsn).
//   row stream (delta_v2_<name>, pieces of whole lines): one message a line, rows on
//     <prefix>.<name>.<schema>.<table>, begin and commit on <prefix>.<name>._tx, a
//     truncate once for each table it names (on that table's subject, naming that table),
//     so that a consumer of one table's subject sees it. The commit is the begin's
//     commit_lsn, known from the first line, so a transaction in pieces is published as
//     it comes.
// The index counts a transaction's messages from 0, so that a transaction sent again
// after a re-attach gets the same ids, and JetStream drops what it already stored.
class message_mapper {
 public:
  message_mapper(std::string stream, std::string subject_prefix);

  // One message (v1) or piece (row stream: whole lines, a transaction's last piece with
  // `last`); appends its messages to `out`. Throws protocol_error on what it cannot read.
  void map(std::string_view piece, lsn position, bool last, std::vector<outgoing_message>& out);
  // A piece interrupted: the next one starts a transaction afresh.
  void reset() { open_.reset(); }

  bool rows() const { return rows_; }

 private:
  struct open_transaction {
    lsn commit;
    std::uint64_t xid = 0;
    std::uint64_t index = 0;
  };
  void map_line(std::string_view line, std::vector<outgoing_message>& out);
  void add(std::string subject, std::string payload, std::vector<outgoing_message>& out);
  std::string table_subject(std::string_view qualified) const;

  const std::string stream_;
  const bool rows_;
  std::string base_;  // <prefix>.<slot> (v1) or <prefix>.<name> (row stream)
  std::optional<open_transaction> open_;
  simdjson::dom::parser parser_;
};

}  // namespace deltastream::jetstream
