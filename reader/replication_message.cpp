#include "reader/replication_message.hpp"

#include <string>

#include "common/errors.hpp"

namespace deltastream::reader {

namespace {

constexpr std::size_t xlog_data_header_size = 1 + 8 + 8 + 8;
constexpr std::size_t keepalive_size = 1 + 8 + 8 + 1;
// 2000-01-01T00:00:00Z in Unix seconds.
constexpr std::int64_t pg_epoch_unix_seconds = 946'684'800;

std::uint64_t get_u64(std::span<const std::uint8_t> bytes, std::size_t offset) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) value = (value << 8) | bytes[offset + i];
  return value;
}

void put_u64(std::uint8_t* out, std::uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(value & 0xFF);
    value >>= 8;
  }
}

}  // namespace

replication_message parse_copy_data(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) throw protocol_error("empty CopyData message");
  switch (bytes[0]) {
    case 'w': {
      if (bytes.size() < xlog_data_header_size) {
        throw protocol_error("XLogData truncated: " + std::to_string(bytes.size()) + " bytes");
      }
      xlog_data message;
      message.data_start = lsn(get_u64(bytes, 1));
      message.wal_end = lsn(get_u64(bytes, 9));
      message.send_time = static_cast<std::int64_t>(get_u64(bytes, 17));
      message.payload =
          std::string_view(reinterpret_cast<const char*>(bytes.data()) + xlog_data_header_size,
                           bytes.size() - xlog_data_header_size);
      return message;
    }
    case 'k': {
      if (bytes.size() != keepalive_size) {
        throw protocol_error("keepalive has " + std::to_string(bytes.size()) +
                             " bytes, expected " + std::to_string(keepalive_size));
      }
      keepalive message;
      message.wal_end = lsn(get_u64(bytes, 1));
      message.send_time = static_cast<std::int64_t>(get_u64(bytes, 9));
      message.reply_requested = bytes[17] != 0;
      return message;
    }
    default:
      throw protocol_error("unknown CopyData message type " + std::to_string(bytes[0]));
  }
}

std::array<std::uint8_t, standby_status_size> encode_standby_status(const standby_status& status) {
  std::array<std::uint8_t, standby_status_size> out{};
  out[0] = 'r';
  put_u64(&out[1], status.written.value());
  put_u64(&out[9], status.flushed.value());
  put_u64(&out[17], status.applied.value());
  put_u64(&out[25], static_cast<std::uint64_t>(status.client_time));
  out[33] = status.reply_requested ? 1 : 0;
  return out;
}

std::int64_t to_pg_time(std::chrono::system_clock::time_point when) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
  return micros - pg_epoch_unix_seconds * 1'000'000;
}

}  // namespace deltastream::reader
