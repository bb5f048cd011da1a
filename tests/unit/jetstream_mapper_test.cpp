// The JetStream output's pure parts: subjects, message ids, and when a transaction may be
// ACKed to the reader.
#include <doctest/doctest.h>

#include "common/errors.hpp"
#include "proto/jetstream/message_mapper.hpp"
#include "proto/jetstream/publish_ledger.hpp"
#include "proto/jetstream/subject_token.hpp"

using namespace deltastream;
using namespace deltastream::jetstream;

namespace {

const std::string begin_line = R"({"op":"begin","xid":745,"commit_lsn":"0/16D3B10","commit_time":"2026-12-02T17:00:00+00:00"})";
const std::string insert_line = R"({"op":"insert","table":"public.orders","new":{"id":1}})";
const std::string commit_line = R"({"op":"commit","xid":745,"lsn":"0/16D3B40","changes":1})";

}  // namespace

TEST_CASE("a subject token escapes what would split or match subjects, and nothing else") {
  CHECK(subject_token("orders") == "orders");
  CHECK(subject_token("my.table") == "my%2Etable");
  CHECK(subject_token("a b*c>d%") == "a%20b%2Ac%3Ed%25");
  CHECK(subject_token("tab\tle") == "tab%09le");
  CHECK(subject_token("Zürich") == "Zürich");  // UTF-8 is allowed in subjects
  CHECK(subject_token("") == "%");
  // Distinct names stay distinct: '%' is escaped too.
  CHECK(subject_token("a%2Eb") != subject_token("a.b"));
  CHECK(literal_subject("deltastream"));
  CHECK(literal_subject("acme.cdc"));
  CHECK_FALSE(literal_subject("acme.>"));
  CHECK_FALSE(literal_subject("acme..cdc"));
  CHECK_FALSE(literal_subject("acme.*"));
  CHECK_FALSE(literal_subject(""));
  CHECK_FALSE(literal_subject("a b"));
}

TEST_CASE("a row stream's transaction: a message a line, its subjects and ids") {
  message_mapper mapper("delta_v2_orders_sync", "cdc");
  CHECK(mapper.rows());
  std::vector<outgoing_message> out;
  mapper.map(begin_line + "\n" + insert_line + "\n" + commit_line, lsn(0x16D3B40), true, out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].subject == "cdc.orders_sync._tx");
  CHECK(out[1].subject == "cdc.orders_sync.public.orders");
  CHECK(out[2].subject == "cdc.orders_sync._tx");
  CHECK(out[0].id == "delta_v2_orders_sync:0/16D3B10:0");
  CHECK(out[1].id == "delta_v2_orders_sync:0/16D3B10:1");
  CHECK(out[2].id == "delta_v2_orders_sync:0/16D3B10:2");
  CHECK(out[1].payload == insert_line);
  for (const auto& message : out) {
    CHECK(message.commit == lsn(0x16D3B10));
    CHECK(message.xid == std::optional<std::uint64_t>(745));
  }
}

TEST_CASE("a transaction in pieces gets the ids it gets whole") {
  message_mapper whole("delta_v2_s", "ds");
  message_mapper pieces("delta_v2_s", "ds");
  std::vector<outgoing_message> one, many;
  whole.map(begin_line + "\n" + insert_line + "\n" + insert_line + "\n" + commit_line, lsn(9), true, one);
  pieces.map(begin_line + "\n" + insert_line + "\n", lsn(0x16D3B10), false, many);
  pieces.map(insert_line + "\n", lsn(0x16D3B10), false, many);
  pieces.map(commit_line, lsn(9), true, many);
  REQUIRE(one.size() == many.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i].id == many[i].id);
    CHECK(one[i].subject == many[i].subject);
    CHECK(one[i].payload == many[i].payload);
  }
}

TEST_CASE("a truncate goes once to each table it names; odd names are escaped") {
  message_mapper mapper("delta_v2_s", "ds");
  std::vector<outgoing_message> out;
  mapper.map(begin_line + "\n" + R"({"op":"truncate","tables":["public.orders","sales.my.t"]})" + "\n" + commit_line,
             lsn(9), true, out);
  REQUIRE(out.size() == 4);
  CHECK(out[1].subject == "ds.s.public.orders");
  CHECK(out[1].payload == R"({"op":"truncate","tables":["public.orders"]})");
  CHECK(out[2].subject == "ds.s.sales.my%2Et");
  CHECK(out[2].payload == R"({"op":"truncate","tables":["sales.my.t"]})");
  CHECK(out[3].id == "delta_v2_s:0/16D3B10:3");
}

TEST_CASE("a begin in the middle starts the transaction over (its first part was lost with a re-attach)") {
  message_mapper mapper("delta_v2_s", "ds");
  std::vector<outgoing_message> out;
  mapper.map(begin_line + "\n" + insert_line + "\n", lsn(1), false, out);
  out.clear();
  mapper.map(begin_line + "\n" + insert_line + "\n" + commit_line, lsn(9), true, out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].id == "delta_v2_s:0/16D3B10:0");
  CHECK(out[2].id == "delta_v2_s:0/16D3B10:2");
}

TEST_CASE("what the mapper cannot read is an error, never skipped") {
  message_mapper mapper("delta_v2_s", "ds");
  std::vector<outgoing_message> out;
  CHECK_THROWS_AS(mapper.map(insert_line, lsn(1), true, out), protocol_error);  // outside a transaction
  CHECK_THROWS_AS(mapper.map("{not json", lsn(1), true, out), protocol_error);
  CHECK_THROWS_AS(mapper.map(R"({"op":"begin","xid":1,"commit_lsn":"nope"})", lsn(1), true, out), protocol_error);
  mapper.reset();
  CHECK_THROWS_AS(mapper.map(begin_line + "\n" + insert_line, lsn(1), true, out), protocol_error);  // no commit
}

TEST_CASE("a v1 stream: one message a transaction, its position the commit") {
  message_mapper mapper("delta_shaggyq3k9a1", "deltastream");
  CHECK_FALSE(mapper.rows());
  std::vector<outgoing_message> out;
  const std::string message = R"({"nextlsn":"0/16D3A08","change":[{"kind":"insert"}]})";
  mapper.map(message, lsn(0x16D3A08), true, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].subject == "deltastream.delta_shaggyq3k9a1");
  CHECK(out[0].id == "delta_shaggyq3k9a1:0/16D3A08:0");
  CHECK(out[0].payload == message);
  CHECK_FALSE(out[0].xid.has_value());
}

TEST_CASE("a transaction is ACKed only once all of it and all before it are stored") {
  publish_ledger ledger;
  const auto generation = ledger.generation();
  ledger.sent(lsn(10));
  ledger.sent(lsn(10));
  ledger.closed(lsn(10), {lsn(11), 7});
  ledger.sent(lsn(20));
  ledger.closed(lsn(20), {lsn(21), 7});
  CHECK_FALSE(ledger.take_stored());
  ledger.stored(generation, lsn(20));  // the later one first: still nothing
  CHECK_FALSE(ledger.take_stored());
  ledger.stored(generation, lsn(10));
  CHECK_FALSE(ledger.take_stored());  // one of its two messages is unanswered
  ledger.stored(generation, lsn(10));
  const auto stored = ledger.take_stored();
  REQUIRE(stored);
  CHECK(stored->position == lsn(21));  // both, ACKed by the newest
  CHECK(stored->epoch == 7);
  CHECK(ledger.transactions() == 0);
}

TEST_CASE("a transaction not closed yet (more pieces to come) is not ACKed") {
  publish_ledger ledger;
  ledger.sent(lsn(10));
  ledger.stored(ledger.generation(), lsn(10));
  CHECK_FALSE(ledger.take_stored());
  ledger.closed(lsn(10), {lsn(11), 1});
  CHECK(ledger.take_stored());
}

TEST_CASE("a refusal stops every ACK after it; a reset forgets earlier answers") {
  publish_ledger ledger;
  const auto first = ledger.generation();
  ledger.sent(lsn(10));
  ledger.closed(lsn(10), {lsn(11), 1});
  ledger.sent(lsn(20));
  ledger.closed(lsn(20), {lsn(21), 1});
  ledger.refused(first, lsn(10), "stream full");
  ledger.stored(first, lsn(20));
  CHECK_FALSE(ledger.take_stored());
  CHECK(ledger.failure() == std::optional<std::string>("stream full"));
  ledger.reset();
  CHECK_FALSE(ledger.failure());
  // The same transaction in flight again: a late answer to the old publish does not count.
  ledger.sent(lsn(10));
  ledger.closed(lsn(10), {lsn(11), 2});
  ledger.stored(first, lsn(10));
  CHECK_FALSE(ledger.take_stored());
  ledger.refused(first, lsn(10), "late");
  CHECK_FALSE(ledger.failure());
  ledger.stored(ledger.generation(), lsn(10));
  CHECK(ledger.take_stored());
}

TEST_CASE("a withdrawn message (never sent) is not waited for; a transaction with none is stored at once") {
  publish_ledger ledger;
  ledger.sent(lsn(10));
  ledger.withdrawn(lsn(10));
  ledger.closed(lsn(10), {lsn(11), 1});
  CHECK(ledger.take_stored());
  ledger.closed(lsn(30), {lsn(31), 1});
  CHECK(ledger.take_stored());
}
