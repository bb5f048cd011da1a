#include "gateway/copy_json_decoder.hpp"

#include <algorithm>
#include <cstdint>

#include "common/errors.hpp"

namespace deltastream::gateway {

namespace {

constexpr std::string_view signature{"PGCOPY\n\377\r\n\0", 11};
constexpr std::size_t header_fixed = 11 + 4 + 4;

std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

std::int16_t read_i16(std::string_view bytes, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return static_cast<std::int16_t>((p[0] << 8) | p[1]);
}

}  // namespace

copy_json_decoder::status copy_json_decoder::feed(std::string_view bytes, std::string& lines) {
  if (pending_.empty()) {
    // The usual case: a CopyData payload holds whole tuples; no copy of them is made.
    const auto used = decode(bytes, lines);
    pending_.assign(bytes.substr(used));
  } else {
    pending_.append(bytes);
    const auto used = decode(pending_, lines);
    pending_.erase(0, used);
  }
  if (stage_ == stage::done && !pending_.empty()) {
    throw protocol_error("binary COPY: bytes after the trailer");
  }
  return stage_ == stage::done ? status::done : status::need_more;
}

std::size_t copy_json_decoder::decode(std::string_view bytes, std::string& lines) {
  std::size_t at = 0;
  if (stage_ == stage::header) {
    if (bytes.size() < header_fixed) return 0;
    if (bytes.substr(0, signature.size()) != signature) {
      throw protocol_error("binary COPY: bad signature");
    }
    const auto extension = read_u32(bytes, 15);
    if (extension > (1u << 20)) throw protocol_error("binary COPY: header extension too long");
    if (extension > bytes.size() - header_fixed) return 0;
    at = header_fixed + extension;
    stage_ = stage::tuples;
  }
  while (stage_ == stage::tuples && bytes.size() - at >= 2) {
    const auto fields = read_i16(bytes, at);
    if (fields == -1) {
      stage_ = stage::done;
      return at + 2;
    }
    if (fields != 1) throw protocol_error("binary COPY: a row of " + std::to_string(fields) + " fields, not 1");
    if (bytes.size() - at < 6) break;
    const auto length = read_u32(bytes, at + 2);
    if (length == 0xFFFFFFFFu) {  // -1: NULL
      lines.append("null\n");
      at += 6;
      continue;
    }
    if (length > 0x7FFFFFFFu) throw protocol_error("binary COPY: negative field length");
    if (bytes.size() - at - 6 < length) break;
    // A raw line break in json text can only be whitespace between its tokens (json
    // input refuses one inside a string): a space instead keeps the row one line.
    const auto row_start = lines.size();
    lines.append(bytes.substr(at + 6, length));
    std::replace_if(lines.begin() + static_cast<std::ptrdiff_t>(row_start), lines.end(),
                    [](char c) { return c == '\n' || c == '\r'; }, ' ');
    lines.push_back('\n');
    at += 6 + length;
  }
  return at;
}

}  // namespace deltastream::gateway
