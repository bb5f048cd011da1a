// libFuzzer: the pgoutput decoder on arbitrary messages. The input is a sequence of
// messages, each a 2-byte big-endian length and its bytes (the corpus seeds are
// tests/golden/pgoutput's recording framed so). Malformed bytes must be a
// protocol_error, never a crash; whatever it publishes must be whole messages.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/errors.hpp"
#include "reader/pgoutput_decoder.hpp"

using namespace deltastream;
using namespace deltastream::reader;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  type_names names;
  pgoutput_decoder decoder({"p"}, names, 512);  // small parts: the spill file in use
  std::string message;
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
  }
  return 0;
}
