// The pgoutput decoder against golden files recorded from PostgreSQL 15 by
// tests/golden/pgoutput/record.py: the pgoutput messages of changes.sql must become, byte
// for byte, the wal2json messages wal2json 2.5 wrote for the same transactions.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "reader/builtin_type_names.hpp"
#include "reader/pgoutput_decoder.hpp"
#include "tests/unit/pgoutput_recording.hpp"

using namespace deltastream;
using namespace deltastream::reader;
using deltastream::testing::golden_lines;
using deltastream::testing::recorded_message;
using deltastream::testing::recorded_messages;
using deltastream::testing::recorded_types;

namespace {

// Feeds every recorded message as the stream does: type names looked up when missing
// (from types.tsv, as PostgreSQL answered them), pieces taken after each message.
struct decoding {
  explicit decoding(std::size_t part_bytes) : decoder({"golden"}, names, part_bytes) {}

  void feed(const recorded_message& message) {
    decoder.feed(xlog_data{message.at, message.at, 0, message.bytes});
    for (const auto& key : decoder.missing_types()) {
      REQUIRE_MESSAGE(types.contains(key), "types.tsv lacks type " << key.oid);
      names.insert(key, types.at(key));
      ++lookups;
    }
    CHECK(decoder.missing_types().empty());
    while (auto piece = decoder.next_piece()) {
      ++pieces;
      current += piece->bytes;
      CHECK(piece->next == *lsn::parse(current.substr(12, current.find('"', 12) - 12)));
      if (piece->last) {
        messages.push_back(std::move(current));
        current.clear();
      }
    }
  }
  void feed_all() {
    for (const auto& message : recorded_messages()) feed(message);
  }

  type_names names;
  pgoutput_decoder decoder;
  std::map<type_key, std::string> types = recorded_types();
  std::vector<std::string> messages;
  std::string current;
  int lookups = 0;
  int pieces = 0;
};

// The first differing bytes, with some context, for a failure that can be read.
std::string first_difference(const std::string& got, const std::string& want) {
  std::size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  const auto from = at < 40 ? 0 : at - 40;
  return "first difference at byte " + std::to_string(at) + "\n  got:  ..." + got.substr(from, 120) +
         "\n  want: ..." + want.substr(from, 120);
}

void check_against_wal2json(const std::vector<std::string>& messages) {
  const auto expected = golden_lines("expected.ndjson");
  REQUIRE(messages.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("message " << i);
    if (messages[i] != expected[i]) FAIL(first_difference(messages[i], expected[i]));
  }
}

}  // namespace

TEST_CASE("pgoutput decodes into wal2json's bytes for every recorded transaction") {
  decoding run(256 << 10);
  run.feed_all();
  check_against_wal2json(run.messages);
  // Each type not built in asked once (the built-in ones are named without asking).
  const auto user_types = std::count_if(run.types.begin(), run.types.end(),
                                        [](const auto& entry) { return entry.first.oid >= 16384; });
  CHECK(run.lookups == user_types);
  CHECK_FALSE(run.decoder.in_transaction());
}

TEST_CASE("small parts: large transactions leave in many pieces, through the spill file, unchanged") {
  decoding run(1024);
  run.feed_all();
  check_against_wal2json(run.messages);
  CHECK(run.pieces > static_cast<int>(run.messages.size()) + 10);
}

TEST_CASE("a decoder reset between transactions forgets its relations and decodes the rest the same") {
  // A new connection resends Relation messages before a relation's first change.
  decoding run(256 << 10);
  const auto messages = recorded_messages();
  run.feed(messages[0]);
  CHECK(run.decoder.in_transaction());
  run.decoder.reset();
  CHECK_FALSE(run.decoder.in_transaction());
  CHECK_THROWS_AS(run.decoder.next_piece().value(), std::bad_optional_access);
  for (const auto& message : messages) run.feed(message);
  check_against_wal2json(run.messages);
}

TEST_CASE("pgoutput messages cut short or unknown are protocol errors, never a crash") {
  const auto messages = recorded_messages();
  for (std::size_t index = 0; index < messages.size(); ++index) {
    const auto& whole = messages[index].bytes;
    // Begin and Commit fields are read as they come; Type, Origin and Truncate are not read.
    if (std::string_view("BCYOT").find(whole[0]) != std::string_view::npos) continue;
    // A decoder that has seen everything before this message.
    for (std::size_t cut = 1; cut < whole.size(); cut += 1 + whole.size() / 50) {
      decoding run(256 << 10);
      for (std::size_t i = 0; i < index; ++i) run.feed(messages[i]);
      const std::string part = whole.substr(0, cut);
      INFO("message " << index << " ('" << whole[0] << "') cut at " << cut);
      CHECK_THROWS_AS(run.decoder.feed(xlog_data{lsn(1), lsn(1), 0, part}), protocol_error);
    }
  }
  type_names names;
  pgoutput_decoder decoder({"p"}, names, 1024);
  CHECK_THROWS_AS(decoder.feed(xlog_data{lsn(1), lsn(1), 0, "Z"}), protocol_error);
  CHECK_THROWS_AS(decoder.feed(xlog_data{lsn(1), lsn(1), 0, ""}), protocol_error);
  // A change before its relation was described.
  decoder.feed(xlog_data{lsn(1), lsn(1), 0, std::string("B\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\0\0\0\0\7", 21)});
  CHECK_THROWS_AS(decoder.feed(xlog_data{lsn(1), lsn(1), 0, std::string("I\0\0\0\1N\0\0", 8)}), protocol_error);
}

TEST_CASE("built-in type names are format_type's, for every built-in type PostgreSQL named in the recording") {
  int checked = 0;
  for (const auto& [key, name] : recorded_types()) {
    if (key.oid >= 16384) continue;
    INFO("type " << key.oid << " typmod " << key.typmod);
    CHECK(builtin_type_name(key).value_or("(none)") == name);
    ++checked;
  }
  CHECK(checked >= 20);
  CHECK(builtin_type_name({1186, 0x7fff0006}) == std::nullopt);  // interval fields: PostgreSQL says
  CHECK(builtin_type_name({1560, -1}) == std::nullopt);           // bit: not in the table
  CHECK(builtin_type_name({1015, 34}) == "character varying(30)[]");
  CHECK(builtin_type_name({1231, 655366}) == "numeric(10,2)[]");
}

TEST_CASE("pgoutput start options name the publications and ask for messages") {
  type_names names;
  pgoutput_decoder decoder({"deltastream", "deltastream_keyed"}, names, 1024);
  const replication_options want = {
      {"proto_version", "1"}, {"publication_names", "deltastream,deltastream_keyed"}, {"messages", "true"}};
  CHECK(decoder.options() == want);
}
