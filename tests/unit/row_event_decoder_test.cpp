// The row stream's decoder against the pgoutput messages recorded from PostgreSQL 15
// (tests/golden/pgoutput, see record.py): one JSON line per event, whole lines a piece.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.hpp"
#include "reader/row_event_decoder.hpp"
#include "tests/unit/pgoutput_recording.hpp"

using namespace deltastream;
using namespace deltastream::reader;
using deltastream::testing::recorded_message;
using deltastream::testing::recorded_messages;
using deltastream::testing::recorded_types;

namespace {

constexpr std::size_t whole_transactions = 1 << 20;  // part_bytes larger than any recorded transaction

// pgoutput's big-endian fields.
std::uint64_t read_be(std::string_view bytes, std::size_t at, std::size_t size) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) value = (value << 8) | static_cast<std::uint8_t>(bytes[at + i]);
  return value;
}
void put_be(std::string& out, std::uint64_t value, std::size_t size) {
  for (std::size_t i = size; i-- > 0;) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Begin: 'B' | Int64 final LSN | Int64 commit time | Int32 xid
std::string begin_message(std::uint64_t final_lsn, std::int64_t time, std::uint32_t xid) {
  std::string out = "B";
  put_be(out, final_lsn, 8);
  put_be(out, static_cast<std::uint64_t>(time), 8);
  put_be(out, xid, 4);
  return out;
}
// Commit: 'C' | Int8 flags | Int64 commit LSN | Int64 end LSN | Int64 commit time
std::string commit_message(std::uint64_t commit_lsn, std::uint64_t end_lsn, std::int64_t time) {
  std::string out = "C";
  out.push_back('\0');
  put_be(out, commit_lsn, 8);
  put_be(out, end_lsn, 8);
  put_be(out, static_cast<std::uint64_t>(time), 8);
  return out;
}
// Truncate: 'T' | Int32 relations | Int8 options | Int32 relation each
std::string truncate_message(const std::vector<std::uint32_t>& relations, std::uint8_t options) {
  std::string out = "T";
  put_be(out, relations.size(), 4);
  out.push_back(static_cast<char>(options));
  for (const auto id : relations) put_be(out, id, 4);
  return out;
}

xlog_data at(lsn position, std::string_view payload) { return xlog_data{position, position, 0, payload}; }

// One transaction's pieces as the decoder gave them.
struct transaction {
  std::vector<message_piece> pieces;

  std::string text() const {
    std::string all;
    for (const auto& piece : pieces) all += piece.bytes;
    return all;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> lines;
    const auto all = text();
    for (std::size_t from = 0;;) {
      const auto end = all.find('\n', from);
      lines.push_back(all.substr(from, end - from));
      if (end == std::string::npos) return lines;
      from = end + 1;
    }
  }
};

// How to_json writes the recording's user-defined types (setup.sql), by the name
// PostgreSQL gave them: what the stream's type query answers from pg_type.
json_shape recorded_shape(const std::string& name) {
  if (name == "golden.positive") return json_shape_of(23);  // a domain over integer
  if (name == "golden.\"Quoted Kind\"[]") return json_shape{json_kind::array};  // of an enum
  return json_shape{};  // enums and a composite: strings
}

// Answers the decoder's type questions as the stream does, before it is fed more.
int resolve_types(row_event_decoder& decoder, type_names& types) {
  static const auto recorded = recorded_types();
  int asked = 0;
  for (const auto& key : decoder.missing_types()) {
    REQUIRE_MESSAGE(recorded.contains(key), "types.tsv lacks type " << key.oid);
    types.insert_shape(key.oid, recorded_shape(recorded.at(key)));
    ++asked;
  }
  CHECK(decoder.missing_types().empty());
  return asked;
}

// Feeds recorded messages as the stream does, taking the pieces after each.
struct row_decoding {
  explicit row_decoding(std::size_t part_bytes) : decoder("golden", types, part_bytes) {}

  void feed(const recorded_message& message) {
    decoder.feed(at(message.at, message.bytes));
    lookups += resolve_types(decoder, types);
    while (auto piece = decoder.next_piece()) {
      current.pieces.push_back(std::move(*piece));
      if (!current.pieces.back().last) continue;
      transactions.push_back(std::move(current));
      current = {};
    }
  }
  void feed_all() {
    for (const auto& message : recorded_messages()) feed(message);
  }

  type_names types;
  row_event_decoder decoder;
  std::vector<transaction> transactions;
  transaction current;
  int lookups = 0;
};

// What the recording says of a transaction that has row changes, read from its bytes
// here rather than by the decoder.
struct recorded_transaction {
  lsn begin_at;           // where its Begin came
  lsn final_lsn;          // Begin's
  std::uint32_t xid = 0;  // Begin's
  lsn end_lsn;            // Commit's
  lsn commit_at;          // where its Commit came
  std::size_t changes = 0;
};

std::vector<recorded_transaction> recorded_transactions() {
  std::vector<recorded_transaction> all;
  recorded_transaction open;
  for (const auto& message : recorded_messages()) {
    const std::string_view bytes = message.bytes;
    switch (bytes[0]) {
      case 'B':
        open = {message.at, lsn(read_be(bytes, 1, 8)), static_cast<std::uint32_t>(read_be(bytes, 17, 4)), {}, {}, 0};
        break;
      case 'I': case 'U': case 'D': case 'T': ++open.changes; break;
      case 'C':
        open.end_lsn = lsn(read_be(bytes, 10, 8));
        open.commit_at = message.at;
        if (open.changes > 0) all.push_back(open);
        break;
      default: break;
    }
  }
  return all;
}

simdjson::dom::element parsed(simdjson::dom::parser& parser, const std::string& line) {
  simdjson::dom::element root;
  const auto error = parser.parse(line).get(root);
  REQUIRE_MESSAGE(error == simdjson::SUCCESS, "not JSON (" << simdjson::error_message(error) << "): " << line);
  REQUIRE(root.is_object());
  return root;
}

std::string_view string_field(simdjson::dom::element object, const char* key) {
  std::string_view value;
  CHECK_MESSAGE(object[key].get_string().get(value) == simdjson::SUCCESS, "no string \"" << key << "\"");
  return value;
}
std::uint64_t number_field(simdjson::dom::element object, const char* key) {
  std::uint64_t value = 0;
  CHECK_MESSAGE(object[key].get_uint64().get(value) == simdjson::SUCCESS, "no number \"" << key << "\"");
  return value;
}

}  // namespace

TEST_CASE("every recorded transaction: begin first, commit last, one line per row event, all JSON") {
  row_decoding run(whole_transactions);
  run.feed_all();
  CHECK(run.current.pieces.empty());
  CHECK_FALSE(run.decoder.in_transaction());
  const auto recorded = recorded_transactions();
  REQUIRE(run.transactions.size() == recorded.size());
  CHECK(recorded.size() == 26);

  simdjson::dom::parser parser;
  for (std::size_t t = 0; t < recorded.size(); ++t) {
    INFO("transaction " << t);
    const auto& got = run.transactions[t];
    const auto& want = recorded[t];
    REQUIRE(got.pieces.size() == 1);
    const auto& piece = got.pieces.front();
    CHECK(piece.last);
    CHECK(piece.next == want.end_lsn);
    CHECK(piece.start == want.begin_at);
    CHECK(piece.wal_end == want.commit_at);
    CHECK_FALSE(piece.bytes.ends_with('\n'));

    // A line break only between lines: every line is one JSON object.
    const auto lines = got.lines();
    REQUIRE(lines.size() == want.changes + 2);
    const auto begin = parsed(parser, lines.front());
    CHECK(string_field(begin, "op") == "begin");
    CHECK(number_field(begin, "xid") == want.xid);
    CHECK(string_field(begin, "commit_lsn") == want.final_lsn.to_string());
    CHECK(string_field(begin, "commit_time").ends_with("+00:00"));
    for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
      INFO("line " << i << ": " << lines[i]);
      const auto op = std::string(string_field(parsed(parser, lines[i]), "op"));
      CHECK((op == "insert" || op == "update" || op == "delete" || op == "truncate"));
    }
    const auto commit = parsed(parser, lines.back());
    CHECK(string_field(commit, "op") == "commit");
    CHECK(number_field(commit, "xid") == want.xid);
    CHECK(string_field(commit, "lsn") == piece.next.to_string());
    CHECK(number_field(commit, "changes") == want.changes);
  }
  // Each user-defined type asked once; the built-in ones are known by OID.
  const auto types = recorded_types();
  const auto user_types =
      std::count_if(types.begin(), types.end(), [](const auto& type) { return type.first.oid >= 16384; });
  CHECK(run.lookups == user_types);
}

TEST_CASE("hand-checked transactions of the recording, line for line") {
  row_decoding run(whole_transactions);
  run.feed_all();
  REQUIRE(run.transactions.size() == 26);
  const auto text = [&run](std::size_t t) { return run.transactions[t].text(); };
  // The TOASTed body of golden.full_identity: string_agg(md5(i::text), '') for i in 1..100,
  // the last value of its recorded Insert.
  const auto insert = recorded_messages()[24].bytes;
  const auto body = insert.substr(insert.size() - 3200);
  REQUIRE(body.starts_with("c4ca4238a0b923820dcc509a6f75849bc81e728d9d4c2f636f067f89cc14862c"));  // md5 of 1, 2

  // Insert: numbers bare (numeric's Infinity quoted, as to_json does), nulls.
  CHECK(text(1) ==
        R"({"op":"begin","xid":139272,"commit_lsn":"0/9404CD10","commit_time":"2026-12-03T11:10:39.340363+00:00"})" "\n"
        R"({"op":"insert","table":"golden.everything","new":{"id":2,"small":32767,"regular":2147483647,)"
        R"("big":9223372036854775807,"num":"Infinity","money_num":null,"real_num":"Infinity","double_num":1.5e-300,)"
        R"("flag":false,"txt":null,"vc":null,"ch":null,"raw":null,"doc":null,"docb":null,"ident":null,"day":null,)"
        R"("clock":null,"clock_tz":null,"moment":null,"moment_tz":null,"span":null,"ints":null,"texts":null,)"
        R"("address":null,"feeling":null,"colour":null,"quoted":null,"quoted_list":null,"positive":null,)"
        R"("level":null,"pair":null,"object_id":null,"cash":null,"Weird \"Col\"":null}})" "\n"
        R"({"op":"commit","xid":139272,"lsn":"0/9404CD40","changes":1})");
  // Two inserts in one transaction, a null; the commit time's fraction without its trailing zeros.
  CHECK(text(15) ==
        R"({"op":"begin","xid":139290,"commit_lsn":"0/940510E0","commit_time":"2026-12-03T11:10:39.344893+00:00"})" "\n"
        R"({"op":"insert","table":"golden.composite_key","new":{"region":"eu","num":1,"name":"a"}})" "\n"
        R"({"op":"insert","table":"golden.composite_key","new":{"region":"us","num":2,"name":null}})" "\n"
        R"({"op":"commit","xid":139290,"lsn":"0/94051110","changes":2})");
  CHECK(text(11).starts_with(R"({"op":"begin","xid":139286,"commit_lsn":"0/94050D90","commit_time":"2026-12-03T11:10:39.34441+00:00"})"));
  // An unchanged TOAST column: absent from "new", named in "unchanged"; the old key from the new row.
  CHECK(text(5) ==
        R"({"op":"begin","xid":139276,"commit_lsn":"0/9404ED68","commit_time":"2026-12-03T11:10:39.343129+00:00"})" "\n"
        R"({"op":"update","table":"golden.big_docs","new":{"id":1,"note":"body unchanged"},"old":{"id":1},"unchanged":["body"]})" "\n"
        R"({"op":"commit","xid":139276,"lsn":"0/9404ED98","changes":1})");
  // A key that did not change: pgoutput sends no old tuple, the old key is the new row's.
  CHECK(text(12) ==
        R"({"op":"begin","xid":139287,"commit_lsn":"0/94050E10","commit_time":"2026-12-03T11:10:39.344561+00:00"})" "\n"
        R"({"op":"update","table":"golden.by_index","new":{"code":"k1","name":"uno","extra":1},"old":{"code":"k1"}})" "\n"
        R"({"op":"commit","xid":139287,"lsn":"0/94050E40","changes":1})");
  // A changed key (REPLICA IDENTITY USING INDEX, then a primary key of two columns): the old one.
  CHECK(text(13) ==
        R"({"op":"begin","xid":139288,"commit_lsn":"0/94050ED8","commit_time":"2026-12-03T11:10:39.34465+00:00"})" "\n"
        R"({"op":"update","table":"golden.by_index","new":{"code":"k2","name":"uno","extra":1},"old":{"code":"k1"}})" "\n"
        R"({"op":"commit","xid":139288,"lsn":"0/94050F08","changes":1})");
  CHECK(text(17) ==
        R"({"op":"begin","xid":139292,"commit_lsn":"0/94051230","commit_time":"2026-12-03T11:10:39.345118+00:00"})" "\n"
        R"({"op":"update","table":"golden.composite_key","new":{"region":"eu","num":3,"name":"b"},"old":{"region":"eu","num":1}})" "\n"
        R"({"op":"commit","xid":139292,"lsn":"0/94051260","changes":1})");
  // REPLICA IDENTITY FULL: the whole old row, its TOASTed body too; the new row's body unchanged.
  CHECK(text(7) ==
        R"({"op":"begin","xid":139278,"commit_lsn":"0/9404FC00","commit_time":"2026-12-03T11:10:39.343444+00:00"})" "\n"
        R"({"op":"update","table":"golden.full_identity","new":{"id":1,"name":"uno"},"old":{"id":1,"name":"one","body":")" +
            body + R"("},"unchanged":["body"]})" "\n"
        R"({"op":"commit","xid":139278,"lsn":"0/9404FC30","changes":1})");
  // Deletes: the old row under FULL, else the key.
  CHECK(text(8) ==
        R"({"op":"begin","xid":139279,"commit_lsn":"0/94050988","commit_time":"2026-12-03T11:10:39.343553+00:00"})" "\n"
        R"({"op":"delete","table":"golden.full_identity","old":{"id":1,"name":"uno","body":")" + body + R"("}})" "\n"
        R"({"op":"commit","xid":139279,"lsn":"0/940509B8","changes":1})");
  CHECK(text(14) ==
        R"({"op":"begin","xid":139289,"commit_lsn":"0/94050F48","commit_time":"2026-12-03T11:10:39.344712+00:00"})" "\n"
        R"({"op":"delete","table":"golden.by_index","old":{"code":"k2"}})" "\n"
        R"({"op":"commit","xid":139289,"lsn":"0/94050F78","changes":1})");
  // User-defined types as PostgreSQL's catalog describes them: a domain over integer is a
  // number, an array of an enum a JSON array.
  CHECK(text(0).find(R"("quoted_list":["a b","c\"d"],"positive":7,"level":"high",)") != std::string::npos);
}

TEST_CASE("small parts: whole lines a piece, the same lines, only the last piece acknowledges") {
  row_decoding whole(whole_transactions);
  whole.feed_all();
  const auto recorded = recorded_transactions();
  std::size_t changes = 0;
  for (const auto& transaction : recorded) changes += transaction.changes;
  for (const std::size_t part_bytes : {0, 1, 64, 300}) {
    INFO("part_bytes " << part_bytes);
    row_decoding run(part_bytes);
    run.feed_all();
    REQUIRE(run.transactions.size() == whole.transactions.size());
    std::size_t pieces = 0;
    for (std::size_t t = 0; t < run.transactions.size(); ++t) {
      INFO("transaction " << t);
      const auto& got = run.transactions[t];
      CHECK(got.text() == whole.transactions[t].text());
      pieces += got.pieces.size();
      for (std::size_t i = 0; i + 1 < got.pieces.size(); ++i) {
        const auto& piece = got.pieces[i];
        CHECK_FALSE(piece.last);
        CHECK(piece.bytes.ends_with('\n'));
        CHECK(piece.bytes.size() > part_bytes);  // lines up to part_bytes, then one more
        CHECK(piece.next == recorded[t].final_lsn);
        CHECK(piece.start == recorded[t].begin_at);
      }
      CHECK(got.pieces.back().last);
      CHECK(got.pieces.back().next == recorded[t].end_lsn);
      CHECK(got.pieces.back().start == recorded[t].begin_at);
      if (part_bytes <= 1) CHECK(got.pieces.size() == recorded[t].changes + 1);  // each line goes at once
    }
    // 300 bytes: the larger transactions split, with several lines in some pieces.
    if (part_bytes == 300) CHECK((pieces > run.transactions.size() && pieces < changes + run.transactions.size()));
  }
}

TEST_CASE("a transaction whose changes were all filtered away sends nothing") {
  type_names types;
  row_event_decoder decoder("golden", types, 64);
  const auto messages = recorded_messages();
  // The Begin and Commit of recorded transaction 1 without its Insert; a Relation and a
  // Type between them, as pgoutput may send before a change it then filters.
  for (const auto index : {11, 1, 8, 13}) {
    decoder.feed(at(messages[index].at, messages[index].bytes));
    resolve_types(decoder, types);
    CHECK_FALSE(decoder.next_piece());
  }
  CHECK_FALSE(decoder.in_transaction());
  const auto empty_begin = begin_message(0x100, 0, 9);
  const auto empty_commit = commit_message(0x100, 0x130, 0);
  decoder.feed(at(lsn(0x100), empty_begin));
  CHECK(decoder.in_transaction());
  decoder.feed(at(lsn(0x130), empty_commit));
  CHECK_FALSE(decoder.next_piece());
  CHECK_FALSE(decoder.in_transaction());
  // The next transaction with a change is whole, with the relation described above.
  for (const auto index : {14, 15, 16}) decoder.feed(at(messages[index].at, messages[index].bytes));
  std::string text;
  while (auto piece = decoder.next_piece()) text += piece->bytes;
  CHECK(text.starts_with(R"({"op":"begin","xid":)"));
  CHECK(text.ends_with(R"(,"changes":1})"));
}

TEST_CASE("truncate: the tables as Relation named them, in one line") {
  const auto messages = recorded_messages();
  type_names types;
  row_event_decoder decoder("golden", types, whole_transactions);
  // Relations of golden.composite_key (recorded message 61) and golden."Mixed Case" (75).
  const auto composite_key = static_cast<std::uint32_t>(read_be(messages[61].bytes, 1, 4));
  const auto mixed_case = static_cast<std::uint32_t>(read_be(messages[75].bytes, 1, 4));
  const auto begin = begin_message(0x5000, 849'546'000'123'456, 1234);
  const auto truncate = truncate_message({composite_key, mixed_case}, 3);
  const auto commit = commit_message(0x5000, 0x5030, 849'546'000'123'456);
  decoder.feed(at(lsn(0x4000), messages[61].bytes));
  decoder.feed(at(lsn(0x4000), begin));
  decoder.feed(at(lsn(0x4000), messages[75].bytes));
  decoder.feed(at(lsn(0x4000), truncate));
  decoder.feed(at(lsn(0x5030), commit));
  const auto piece = decoder.next_piece();
  REQUIRE(piece);
  CHECK(piece->last);
  CHECK(piece->next == lsn(0x5030));
  CHECK(piece->bytes ==
        R"({"op":"begin","xid":1234,"commit_lsn":"0/5000","commit_time":"2026-12-02T17:00:00.123456+00:00"})"
        "\n"
        R"({"op":"truncate","tables":["golden.composite_key","golden.Mixed Case"]})"
        "\n"
        R"({"op":"commit","xid":1234,"lsn":"0/5030","changes":1})");
  CHECK_FALSE(decoder.next_piece());

  // Cut short at every byte, or naming a relation not described: protocol errors.
  for (std::size_t cut = 1; cut < truncate.size(); ++cut) {
    INFO("cut at " << cut);
    auto copy = decoder;
    copy.feed(at(lsn(0x6000), begin));
    CHECK_THROWS_AS(copy.feed(at(lsn(0x6000), truncate.substr(0, cut))), protocol_error);
  }
  decoder.feed(at(lsn(0x6000), begin));
  CHECK_THROWS_AS(decoder.feed(at(lsn(0x6000), truncate_message({composite_key, 999}, 0))), protocol_error);
}

TEST_CASE("every recorded message cut short at every byte is a protocol error, never a crash") {
  const auto messages = recorded_messages();
  type_names types;
  row_event_decoder before("golden", types, 64);  // has seen every message before the one cut
  for (std::size_t index = 0; index < messages.size(); ++index) {
    const auto& whole = messages[index].bytes;
    // Type, Origin and Message are not a row's business: their fields are not read.
    const bool read = std::string_view("OYM").find(whole[0]) == std::string_view::npos;
    for (std::size_t cut = 0; cut < whole.size(); ++cut) {
      INFO("message " << index << " ('" << std::string(1, whole[0]) << "') cut at " << cut);
      auto decoder = before;
      const auto part = whole.substr(0, cut);
      if (read || cut == 0) {
        CHECK_THROWS_AS(decoder.feed(at(messages[index].at, part)), protocol_error);
      } else {
        decoder.feed(at(messages[index].at, part));
      }
    }
    before.feed(at(messages[index].at, whole));
    resolve_types(before, types);
    while (before.next_piece()) {
    }
  }
}

TEST_CASE("unknown message types, and messages out of their place, are protocol errors") {
  const auto messages = recorded_messages();
  for (int tag = 0; tag < 256; ++tag) {
    if (std::string_view("BCRIUDTOYM").find(static_cast<char>(tag)) != std::string_view::npos) continue;
    INFO("tag " << tag);
    type_names types;
    row_event_decoder decoder("golden", types, 64);
    decoder.feed(at(messages[0].at, messages[0].bytes));  // in a transaction
    CHECK_THROWS_AS(decoder.feed(at(lsn(1), std::string(1, static_cast<char>(tag)) + std::string(30, '\0'))),
                    protocol_error);
  }
  type_names types;
  row_event_decoder decoder("golden", types, 64);
  CHECK_THROWS_WITH_AS(decoder.feed(at(lsn(1), "Z")), "pgoutput: unknown message type 'Z'", protocol_error);
  // Protocol 2's streamed transactions ('S'tream start): never asked for.
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), std::string("S\0\0\0\1\1", 6))), protocol_error);
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), "")), protocol_error);

  // A change before its Relation; a change or Commit outside a transaction; Begin in one.
  const auto begin = begin_message(0x100, 0, 7);
  const auto commit = commit_message(0x100, 0x130, 0);
  CHECK_THROWS_WITH_AS(decoder.feed(at(lsn(1), commit)), "pgoutput: Commit outside a transaction", protocol_error);
  CHECK_THROWS_WITH_AS(decoder.feed(at(lsn(1), messages[9].bytes)), "pgoutput: a change outside a transaction",
                       protocol_error);
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), truncate_message({1}, 0))), protocol_error);
  decoder.feed(at(lsn(1), begin));
  CHECK_THROWS_WITH_AS(decoder.feed(at(lsn(1), begin)), "pgoutput: Begin inside a transaction", protocol_error);
  CHECK_THROWS_WITH_AS(decoder.feed(at(lsn(1), messages[9].bytes)),
                       "pgoutput: a change for relation 263186 before its Relation message", protocol_error);

  // Tuples that do not fit the change: an Insert of an old key, a Delete of a new row,
  // an Update whose old key is not followed by the new row.
  decoder.feed(at(lsn(1), messages[48].bytes));  // golden.by_index
  const auto by_index = messages[48].bytes.substr(1, 4);
  const std::string row("\0\1n", 3);
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), "I" + by_index + "K" + row)), protocol_error);
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), "D" + by_index + "N" + row)), protocol_error);
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), "U" + by_index + "K" + row + "K" + row)), protocol_error);
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), "U" + by_index + "X" + row)), protocol_error);
  CHECK_THROWS_AS(decoder.feed(at(lsn(1), "I" + by_index + "N" + std::string("\0\1x", 3))), protocol_error);
}

TEST_CASE("a reset forgets the relations and the transaction in progress; the rest decodes the same") {
  row_decoding whole(whole_transactions);
  whole.feed_all();
  row_decoding run(64);
  const auto messages = recorded_messages();
  for (std::size_t i = 0; i < 23; ++i) run.feed(messages[i]);  // into the big_docs transaction
  CHECK(run.decoder.in_transaction());
  CHECK(run.decoder.transaction_bytes() > 3000);
  run.decoder.reset();
  CHECK_FALSE(run.decoder.in_transaction());
  CHECK(run.decoder.transaction_bytes() == 0);
  CHECK_FALSE(run.decoder.next_piece());
  run.decoder.feed(at(messages[11].at, messages[11].bytes));  // a Begin: the last one is forgotten
  CHECK_THROWS_AS(run.decoder.feed(at(messages[12].at, messages[12].bytes)), protocol_error);  // its relation too
  run.decoder.reset();
  run.transactions.clear();
  run.current = {};
  for (const auto& message : messages) run.feed(message);
  REQUIRE(run.transactions.size() == whole.transactions.size());
  for (std::size_t t = 0; t < run.transactions.size(); ++t) {
    CHECK(run.transactions[t].text() == whole.transactions[t].text());
  }
}

TEST_CASE("start options: protocol 1 and the stream's one publication") {
  type_names types;
  row_event_decoder decoder("delta_v2_orders", types, 64);
  const replication_options want = {{"proto_version", "1"}, {"publication_names", "delta_v2_orders"}};
  CHECK(decoder.options() == want);
  CHECK(decoder.missing_types().empty());
}

TEST_CASE("commit times as to_json writes a timestamptz in UTC") {
  CHECK(iso_timestamp(0) == "2000-01-01T00:00:00+00:00");
  CHECK(iso_timestamp(500'000) == "2000-01-01T00:00:00.5+00:00");
  CHECK(iso_timestamp(120'000) == "2000-01-01T00:00:00.12+00:00");
  CHECK(iso_timestamp(1) == "2000-01-01T00:00:00.000001+00:00");
  CHECK(iso_timestamp(86'400'000'000) == "2000-01-02T00:00:00+00:00");
  // Before 2000: the fraction still counts forward from the second before.
  CHECK(iso_timestamp(-1) == "1999-12-31T23:59:59.999999+00:00");
  CHECK(iso_timestamp(-500'000) == "1999-12-31T23:59:59.5+00:00");
  CHECK(iso_timestamp(-946'684'800'000'000) == "1970-01-01T00:00:00+00:00");
  CHECK(iso_timestamp(-960'867'740'000'000) == "1969-07-20T20:17:40+00:00");
  CHECK(iso_timestamp(849'546'000'123'456) == "2026-12-02T17:00:00.123456+00:00");
  CHECK(iso_timestamp(849'546'000'120'000) == "2026-12-02T17:00:00.12+00:00");
  CHECK(iso_timestamp(849'546'000'000'000) == "2026-12-02T17:00:00+00:00");
  // Whatever 8 bytes a Begin holds, no overflow (the sanitizers' build checks).
  CHECK(iso_timestamp(std::numeric_limits<std::int64_t>::min()).ends_with(".224192+00:00"));
  CHECK(iso_timestamp(std::numeric_limits<std::int64_t>::max()).ends_with(".775807+00:00"));
}
