#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "common/errors.hpp"
#include "proto/data_frame.hpp"
#include "proto/stream_end.hpp"

using namespace deltastream;
using namespace deltastream::proto;

TEST_CASE("data frame headers round trip for every kind") {
  for (auto kind : {frame_kind::data, frame_kind::heartbeat, frame_kind::stream_end,
                    frame_kind::data_part}) {
    const frame_header header{kind, 1700000000123456ull, 42, lsn(0x162D700), lsn(0xFFFFFFFF00000001ull)};
    const auto bytes = encode_header(header);
    CHECK(decode_header(bytes) == header);
  }
}

TEST_CASE("header layout is big-endian at fixed offsets") {
  const auto bytes = encode_header({frame_kind::heartbeat, 0x0102030405060708ull, 9, lsn(10), lsn(11)});
  CHECK(bytes[0] == protocol_version);
  CHECK(bytes[1] == 2);
  CHECK(bytes[2] == 0x01);
  CHECK(bytes[9] == 0x08);
  CHECK(bytes[17] == 9);
  CHECK(bytes[25] == 10);
  CHECK(bytes[33] == 11);
}

TEST_CASE("malformed headers are refused") {
  auto bytes = encode_header({});
  for (std::size_t size = 0; size < header_size; ++size) {
    CHECK_THROWS_AS(decode_header(std::span(bytes.data(), size)), protocol_error);
  }
  std::vector<std::uint8_t> longer(bytes.begin(), bytes.end());
  longer.push_back(0);
  CHECK_THROWS_AS(decode_header(longer), protocol_error);
  bytes[0] = 2;
  CHECK_THROWS_AS(decode_header(bytes), protocol_error);
  bytes[0] = protocol_version;
  for (std::uint8_t kind : {0, 5, 255}) {
    bytes[1] = kind;
    CHECK_THROWS_AS(decode_header(bytes), protocol_error);
  }
}

TEST_CASE("random headers decode or fail cleanly") {
  std::mt19937 random(7);
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::uint8_t> bytes(header_size);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
    bytes[0] = protocol_version;
    try {
      const auto header = decode_header(bytes);
      const auto again = encode_header(header);
      CHECK(std::equal(again.begin(), again.end(), bytes.begin()));
    } catch (const protocol_error&) {
    }
  }
}

TEST_CASE("a stream_end carries a code to switch on and a reason for people") {
  for (auto code : {proto::end_code::detached, proto::end_code::restarted, proto::end_code::dropped,
                    proto::end_code::connection_lost, proto::end_code::shutdown}) {
    const auto notice = proto::decode_stream_end(proto::encode_stream_end(code, "why \"not\""));
    CHECK(notice.code == code);
    CHECK(notice.reason == "why \"not\"");
    CHECK(notice.ends_for_good() == (code == proto::end_code::dropped));
  }
  // What an older reader sent (plain text), or a newer code: resumable, never for good.
  for (const char* payload : {"stream dropped", "", "{", R"({"code":"exploded","reason":"x"})"}) {
    CAPTURE(payload);
    const auto notice = proto::decode_stream_end(payload);
    CHECK(notice.code == proto::end_code::unknown);
    CHECK_FALSE(notice.ends_for_good());
  }
}

TEST_CASE("topics end with NUL so that one stream never matches another") {
  CHECK(topic_for("delta_a") == std::string("delta_a\0", 8));
  CHECK(stream_of_topic(topic_for("delta_a")) == "delta_a");
  CHECK(topic_for("delta_ab").rfind(topic_for("delta_a"), 0) == std::string::npos);
  CHECK_THROWS_AS(stream_of_topic("delta_a"), protocol_error);
  CHECK_THROWS_AS(stream_of_topic(std::string("\0", 1)), protocol_error);
  CHECK_THROWS_AS(stream_of_topic(std::string("a\0b\0", 4)), protocol_error);
}
