#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/lsn.hpp"

namespace deltastream::proto {

// The reader's PUB messages: three ZeroMQ frames, [topic][header][payload].
// See proto/PROTOCOL.md for the contract other languages implement.

enum class frame_kind : std::uint8_t {
  data = 1,        // payload: one wal2json message, byte for byte as PostgreSQL sent it
  heartbeat = 2,   // payload empty; seq = last data seq of the epoch (detects a lost tail)
  stream_end = 3,  // payload: {"code","reason"} (proto/stream_end.hpp); the epoch is over
  // payload: a leading piece of one wal2json message too large for one frame. The
  // pieces of a message are consecutive data_part frames and then one data frame with
  // the last piece; concatenated, they are the message byte for byte. Each piece has
  // its own seq, so that a lost piece is a gap like a lost message.
  data_part = 4,
};

// Kinds that carry (a piece of) a message and take a seq.
inline bool carries_data(frame_kind kind) {
  return kind == frame_kind::data || kind == frame_kind::data_part;
}

inline constexpr std::uint8_t protocol_version = 1;
inline constexpr std::size_t header_size = 34;

// Header layout, all integers big-endian (network order, like the replication protocol):
//   offset 0  u8  version (1)
//   offset 1  u8  kind (frame_kind)
//   offset 2  u64 epoch      one per START_REPLICATION; changes after every restart
//   offset 10 u64 seq        1, 2, 3... within an epoch (data and data_part advance it)
//   offset 18 u64 lsn        data, data_part: the position that acknowledges the message
//                            (wal2json's nextlsn); heartbeat/end: the acked position
//   offset 26 u64 wal_lsn    data, data_part: the message's first XLogData start;
//                            heartbeat/end: server WAL end seen
struct frame_header {
  frame_kind kind = frame_kind::data;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  lsn position;
  lsn wal_position;

  friend bool operator==(const frame_header&, const frame_header&) = default;
};

std::array<std::uint8_t, header_size> encode_header(const frame_header& header);

// Throws protocol_error on a wrong size, an unknown version or an unknown kind.
frame_header decode_header(std::span<const std::uint8_t> bytes);

// The topic frame is the stream name followed by one NUL byte, so that a ZeroMQ prefix
// subscription to one stream never matches another ("delta_a" vs "delta_ab").
std::string topic_for(std::string_view stream);
// Throws protocol_error when the frame is not a topic.
std::string_view stream_of_topic(std::string_view topic);

}  // namespace deltastream::proto
