#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "common/errors.hpp"
#include "reader/replication_message.hpp"

using namespace deltastream;
using namespace deltastream::reader;

namespace {

std::vector<std::uint8_t> be64(std::uint64_t value) {
  std::vector<std::uint8_t> out(8);
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(value & 0xFF);
    value >>= 8;
  }
  return out;
}

std::vector<std::uint8_t> xlog_bytes(std::uint64_t start, std::uint64_t end, std::uint64_t time,
                                     std::string_view data) {
  std::vector<std::uint8_t> out{'w'};
  for (auto part : {be64(start), be64(end), be64(time)}) out.insert(out.end(), part.begin(), part.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::uint8_t> keepalive_bytes(std::uint64_t end, std::uint64_t time, std::uint8_t reply) {
  std::vector<std::uint8_t> out{'k'};
  for (auto part : {be64(end), be64(time)}) out.insert(out.end(), part.begin(), part.end());
  out.push_back(reply);
  return out;
}

}  // namespace

TEST_CASE("XLogData: header fields and the payload untouched") {
  const auto bytes = xlog_bytes(0x16B3748, 0x16B3800, 123456789, R"({"nextlsn":"0/1","change":[]})");
  const auto message = std::get<xlog_data>(parse_copy_data(bytes));
  CHECK(message.data_start == lsn(0x16B3748));
  CHECK(message.wal_end == lsn(0x16B3800));
  CHECK(message.send_time == 123456789);
  CHECK(message.payload == R"({"nextlsn":"0/1","change":[]})");
}

TEST_CASE("XLogData with an empty payload is valid") {
  const auto message = std::get<xlog_data>(parse_copy_data(xlog_bytes(1, 2, 3, "")));
  CHECK(message.payload.empty());
}

TEST_CASE("keepalive: wal end and reply flag") {
  const auto message = std::get<keepalive>(parse_copy_data(keepalive_bytes(0xFF00000001ull, 7, 1)));
  CHECK(message.wal_end == lsn(0xFF00000001ull));
  CHECK(message.send_time == 7);
  CHECK(message.reply_requested);
  CHECK_FALSE(std::get<keepalive>(parse_copy_data(keepalive_bytes(1, 7, 0))).reply_requested);
}

TEST_CASE("every truncation of a valid message fails cleanly") {
  const auto xlog = xlog_bytes(1, 2, 3, "x");
  for (std::size_t size = 0; size < 25; ++size) {
    CAPTURE(size);
    CHECK_THROWS_AS(parse_copy_data(std::span(xlog.data(), size)), protocol_error);
  }
  const auto alive = keepalive_bytes(1, 2, 0);
  for (std::size_t size = 0; size < alive.size(); ++size) {
    CAPTURE(size);
    CHECK_THROWS_AS(parse_copy_data(std::span(alive.data(), size)), protocol_error);
  }
}

TEST_CASE("trailing bytes after a keepalive and unknown types are refused") {
  auto alive = keepalive_bytes(1, 2, 0);
  alive.push_back(0);
  CHECK_THROWS_AS(parse_copy_data(alive), protocol_error);
  const std::vector<std::uint8_t> unknown{'x', 0, 0};
  CHECK_THROWS_AS(parse_copy_data(unknown), protocol_error);
}

TEST_CASE("random buffers: each is parsed or refused with protocol_error, nothing else") {
  std::mt19937 random(42);
  int parsed = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::uint8_t> bytes(random() % 40);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
    if (!bytes.empty() && round % 3 == 0) bytes[0] = (round % 2) ? 'w' : 'k';
    try {
      (void)parse_copy_data(bytes);
      ++parsed;
    } catch (const protocol_error&) {
      ++refused;  // any other exception fails the test
    }
  }
  // Both ways were taken: the buffers reached the parser's checks, not only its first one.
  CHECK(parsed > 0);
  CHECK(refused > 0);
}

TEST_CASE("standby status update: layout of the 34 bytes") {
  const auto bytes = encode_standby_status({lsn(0x0102030405060708ull), lsn(0x1112131415161718ull),
                                            lsn(0x2122232425262728ull), 0x3132333435363738ll, true});
  REQUIRE(bytes.size() == 34);
  CHECK(bytes[0] == 'r');
  CHECK(bytes[1] == 0x01);
  CHECK(bytes[8] == 0x08);
  CHECK(bytes[9] == 0x11);
  CHECK(bytes[17] == 0x21);
  CHECK(bytes[25] == 0x31);
  CHECK(bytes[32] == 0x38);
  CHECK(bytes[33] == 1);
  CHECK(encode_standby_status({})[33] == 0);
}

TEST_CASE("PostgreSQL time counts microseconds from 2000-01-01") {
  const auto y2k = std::chrono::system_clock::from_time_t(946684800);
  CHECK(to_pg_time(y2k) == 0);
  CHECK(to_pg_time(y2k + std::chrono::seconds(1)) == 1'000'000);
}
