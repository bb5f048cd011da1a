#include "proto/jetstream/subject_token.hpp"

namespace deltastream::jetstream {

namespace {

bool needs_escape(unsigned char byte) {
  return byte <= ' ' || byte == 0x7f || byte == '.' || byte == '*' || byte == '>' || byte == '%';
}

}  // namespace

std::string subject_token(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  if (name.empty()) return "%";  // never a name PostgreSQL gives, and never an escape's output
  std::string token;
  token.reserve(name.size());
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (!needs_escape(byte)) {
      token.push_back(c);
      continue;
    }
    token.push_back('%');
    token.push_back(hex[byte >> 4]);
    token.push_back(hex[byte & 0x0f]);
  }
  return token;
}

bool literal_subject(std::string_view subject) {
  bool token_empty = true;
  for (const char c : subject) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '.') {
      if (token_empty) return false;
      token_empty = true;
      continue;
    }
    if (byte <= ' ' || byte == 0x7f || c == '*' || c == '>') return false;
    token_empty = false;
  }
  return !token_empty;
}

}  // namespace deltastream::jetstream
