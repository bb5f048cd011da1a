// libFuzzer: the replication CopyData parser (XLogData, keepalive) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "common/errors.hpp"
#include "reader/replication_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto message = deltastream::reader::parse_copy_data({data, size});
    if (const auto* xlog = std::get_if<deltastream::reader::xlog_data>(&message)) {
      // The payload must lie inside the input.
      if (!xlog->payload.empty() &&
          (reinterpret_cast<const std::uint8_t*>(xlog->payload.data()) < data ||
           reinterpret_cast<const std::uint8_t*>(xlog->payload.data()) + xlog->payload.size() >
               data + size)) {
        __builtin_trap();
      }
    }
  } catch (const deltastream::protocol_error&) {
  }
  return 0;
}
