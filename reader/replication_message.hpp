#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "common/lsn.hpp"

namespace deltastream::reader {

// The CopyData messages of the streaming replication protocol
// (PostgreSQL docs, "Streaming Replication Protocol", START_REPLICATION). Pure functions:
// bytes in, values out; malformed bytes throw protocol_error.

// XLogData, server -> client:
//   Byte1('w') | Int64 dataStart | Int64 walEnd | Int64 sendTime | Byte[n] data
struct xlog_data {
  lsn data_start;
  lsn wal_end;
  std::int64_t send_time = 0;  // microseconds since 2000-01-01 UTC
  std::string_view payload;    // points into the parsed buffer
};

// Primary keepalive, server -> client:
//   Byte1('k') | Int64 walEnd | Int64 sendTime | Byte1 replyRequested
struct keepalive {
  lsn wal_end;
  std::int64_t send_time = 0;
  bool reply_requested = false;
};

using replication_message = std::variant<xlog_data, keepalive>;

replication_message parse_copy_data(std::span<const std::uint8_t> bytes);

// Standby status update, client -> server:
//   Byte1('r') | Int64 written | Int64 flushed | Int64 applied | Int64 clientTime |
//   Byte1 replyRequested
// For a logical slot, `flushed` becomes the slot's confirmed_flush_lsn.
struct standby_status {
  lsn written;
  lsn flushed;
  lsn applied;
  std::int64_t client_time = 0;
  bool reply_requested = false;
};

inline constexpr std::size_t standby_status_size = 34;
std::array<std::uint8_t, standby_status_size> encode_standby_status(const standby_status& status);

// Microseconds since the PostgreSQL epoch (2000-01-01 UTC), the protocol's clock.
std::int64_t to_pg_time(std::chrono::system_clock::time_point when);

}  // namespace deltastream::reader
