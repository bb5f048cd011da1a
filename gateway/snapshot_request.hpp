#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/query_string.hpp"

namespace deltastream::gateway {

enum class sort_direction { ascending, descending };

// The body of POST /v1/snapshot/data:
//   {"slotName":"delta_x","table":"public.t","offset":0,"limit":100,
//    "order_by":{"column":"id","order":"ASC"}}
// Keys match case-insensitively, as Go's encoding/json did for pgdeltastream's clients.
struct snapshot_request {
  std::string slot_name;  // optional: the gateway's last /v1/init when empty
  std::string table;      // as the user wrote it: t, schema.t, "MixedCase"
  std::uint64_t offset = 0;
  std::uint64_t limit = 0;
  struct order {
    std::string column;
    sort_direction direction = sort_direction::ascending;
  };
  std::optional<order> order_by;
};

// A refusal: the HTTP status (400) and the message for {"error":...}.
struct request_error {
  std::string message;
};

using snapshot_parse_result = std::variant<snapshot_request, request_error>;

// Untrusted bytes in; never throws. `max_limit` bounds "limit".
snapshot_parse_result parse_snapshot_request(std::string_view body, std::uint64_t max_limit);

// The query of GET /v1/snapshot/stream, the same choice of rows without a window:
//   ?slotName=delta_x&table=public.t&order_by=id&order=DESC
// (offset and limit stay 0, unused; `order` defaults to ASC). Never throws.
snapshot_parse_result parse_stream_request(const request_target& target);

}  // namespace deltastream::gateway
