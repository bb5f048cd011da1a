#include "proto/data_frame.hpp"

#include "common/errors.hpp"

namespace deltastream::proto {

namespace {

void put_u64(std::uint8_t* out, std::uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(value & 0xFF);
    value >>= 8;
  }
}

std::uint64_t get_u64(const std::uint8_t* in) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | in[i];
  return value;
}

}  // namespace

std::array<std::uint8_t, header_size> encode_header(const frame_header& header) {
  std::array<std::uint8_t, header_size> out{};
  out[0] = protocol_version;
  out[1] = static_cast<std::uint8_t>(header.kind);
  put_u64(&out[2], header.epoch);
  put_u64(&out[10], header.seq);
  put_u64(&out[18], header.position.value());
  put_u64(&out[26], header.wal_position.value());
  return out;
}

frame_header decode_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != header_size) {
    throw protocol_error("data frame header has " + std::to_string(bytes.size()) +
                         " bytes, expected " + std::to_string(header_size));
  }
  if (bytes[0] != protocol_version) {
    throw protocol_error("unknown data frame version " + std::to_string(bytes[0]));
  }
  const auto kind = bytes[1];
  if (kind < static_cast<std::uint8_t>(frame_kind::data) ||
      kind > static_cast<std::uint8_t>(frame_kind::data_part)) {
    throw protocol_error("unknown data frame kind " + std::to_string(kind));
  }
  frame_header header;
  header.kind = static_cast<frame_kind>(kind);
  header.epoch = get_u64(&bytes[2]);
  header.seq = get_u64(&bytes[10]);
  header.position = lsn(get_u64(&bytes[18]));
  header.wal_position = lsn(get_u64(&bytes[26]));
  return header;
}

std::string topic_for(std::string_view stream) {
  std::string topic(stream);
  topic.push_back('\0');
  return topic;
}

std::string_view stream_of_topic(std::string_view topic) {
  if (topic.size() < 2 || topic.back() != '\0' ||
      topic.find('\0') != topic.size() - 1) {
    throw protocol_error("malformed topic frame");
  }
  return topic.substr(0, topic.size() - 1);
}

}  // namespace deltastream::proto
