// libFuzzer: the POST /v1/snapshot/data body parser; accepted requests respect the limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/snapshot_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace deltastream::gateway;
  const auto result = parse_snapshot_request({reinterpret_cast<const char*>(data), size}, 1000);
  if (const auto* request = std::get_if<snapshot_request>(&result)) {
    if (request->table.empty() || request->limit > 1000) __builtin_trap();
    if (request->order_by && request->order_by->column.empty()) __builtin_trap();
  }
  return 0;
}
