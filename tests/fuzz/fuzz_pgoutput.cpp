// libFuzzer: both pgoutput decoders (wal2json's messages, a row stream's lines) on arbitrary
// messages, each decoder fed every message on its own. The input is a sequence of
// messages, each a 2-byte big-endian length and its bytes (the corpus seeds are
// tests/golden/pgoutput's recording framed so). Malformed bytes must be a
// protocol_error, never a crash; whatever they publish must be whole messages.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/errors.hpp"
#include "reader/pgoutput_decoder.hpp"
#include "reader/row_event_decoder.hpp"

using namespace deltastream;
using namespace deltastream::reader;

namespace {

// A transaction's row events: a begin line, one line per change, the commit line whose
// "changes" counts them; a line break between lines only (none inside a value).
void check_row_events(std::string_view text) {
  if (!text.starts_with("{\"op\":\"begin\",") || text.ends_with('\n')) __builtin_trap();
  const auto last_line = text.rfind('\n');
  if (last_line == std::string_view::npos) __builtin_trap();
  const auto commit = text.substr(last_line + 1);
  const auto count_at = commit.rfind("\"changes\":");
  if (!commit.starts_with("{\"op\":\"commit\",") || count_at == std::string_view::npos) __builtin_trap();
  std::size_t changes = 0;
  for (const char c : commit.substr(count_at + 10, commit.size() - count_at - 11)) changes = changes * 10 + (c - '0');
  std::size_t lines = 1;
  for (std::size_t at = 0; (at = text.find('\n', at)) != std::string_view::npos; ++at) {
    if (text[at - 1] != '}') __builtin_trap();
    ++lines;
  }
  if (changes == 0 || lines != changes + 2) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  type_names names;
  pgoutput_decoder decoder({"p"}, names, 512);  // small parts: the spill file in use
  type_names row_types;
  row_event_decoder rows("p", row_types, 64);  // small parts: a few lines a piece
  std::string message;
  std::string lines;
  for (std::size_t at = 0; at + 2 <= size;) {
    const std::size_t length = (std::size_t{data[at]} << 8) | data[at + 1];
    at += 2;
    const std::string_view payload(reinterpret_cast<const char*>(data + at), std::min(length, size - at));
    at += payload.size();
    try {
      decoder.feed(xlog_data{lsn(at), lsn(at), 0, payload});
      for (const auto& key : decoder.missing_types()) names.insert(key, "t");
      while (auto piece = decoder.next_piece()) {
        message += piece->bytes;
        if (!piece->last) continue;
        if (!message.starts_with("{\"nextlsn\":\"") || !message.ends_with("]}")) __builtin_trap();
        message.clear();
      }
    } catch (const protocol_error&) {
      decoder.reset();
      message.clear();
    }
    try {
      rows.feed(xlog_data{lsn(at), lsn(at), 0, payload});
      // A user-defined type written as some built-in one (its OID's low bits pick which):
      // what a domain or an array of enums looks like to the decoder.
      for (const auto& key : rows.missing_types()) row_types.insert_shape(key.oid, json_shape_of(key.oid & 0xfff));
      while (auto piece = rows.next_piece()) {
        lines += piece->bytes;
        if (!piece->last) {
          if (!piece->bytes.ends_with('\n')) __builtin_trap();
          continue;
        }
        check_row_events(lines);
        lines.clear();
      }
    } catch (const protocol_error&) {
      rows.reset();
      lines.clear();
    }
  }
  return 0;
}
