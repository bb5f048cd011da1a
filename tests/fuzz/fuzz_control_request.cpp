// libFuzzer: the reader's control request decoder; accepted requests re-encode and
// decode to the same request.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/control_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace deltastream::proto;
  const auto decoded = decode_control_request({reinterpret_cast<const char*>(data), size});
  if (decoded.request) {
    const auto again = decode_control_request(encode_control_request(*decoded.request));
    if (!again.request || again.request->op != decoded.request->op ||
        again.request->stream != decoded.request->stream ||
        again.request->ack_lsn != decoded.request->ack_lsn) {
      __builtin_trap();
    }
  }
  return 0;
}
