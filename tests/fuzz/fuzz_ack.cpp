// libFuzzer: the WebSocket ACK parser; an accepted LSN must format and parse back.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/ack_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace deltastream;
  const auto result = gateway::parse_ack({reinterpret_cast<const char*>(data), size});
  if (const auto* position = std::get_if<lsn>(&result)) {
    if (lsn::parse(position->to_string()) != *position) __builtin_trap();
  }
  return 0;
}
