// libFuzzer: the data frame header decoder and topic parser; a decoded header must
// encode back to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/errors.hpp"
#include "proto/data_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace deltastream;
  try {
    const auto header = proto::decode_header({data, size});
    const auto again = proto::encode_header(header);
    if (!std::equal(again.begin(), again.end(), data, data + size)) __builtin_trap();
  } catch (const protocol_error&) {
  }
  try {
    (void)proto::stream_of_topic({reinterpret_cast<const char*>(data), size});
  } catch (const protocol_error&) {
  }
  return 0;
}
