#include "common/lsn.hpp"

#include <cstdio>

namespace deltastream {

namespace {

// Parses 1..8 hex digits; nullopt otherwise.
std::optional<std::uint32_t> parse_hex32(std::string_view digits) {
  if (digits.empty() || digits.size() > 8) return std::nullopt;
  std::uint32_t value = 0;
  for (char c : digits) {
    int nibble;
    if (c >= '0' && c <= '9') {
      nibble = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      nibble = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      nibble = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    value = (value << 4) | static_cast<std::uint32_t>(nibble);
  }
  return value;
}

}  // namespace

std::optional<lsn> lsn::parse(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto high = parse_hex32(text.substr(0, slash));
  const auto low = parse_hex32(text.substr(slash + 1));
  if (!high || !low) return std::nullopt;
  return lsn((static_cast<std::uint64_t>(*high) << 32) | *low);
}

std::string lsn::to_string() const {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%X/%X", static_cast<unsigned>(value_ >> 32),
                static_cast<unsigned>(value_ & 0xFFFFFFFFu));
  return buffer;
}

}  // namespace deltastream
