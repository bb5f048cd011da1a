#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/gateway_context.hpp"

namespace deltastream::gateway {

// A v2 stream as GET /v2/streams/{name} shows it:
//   {"name", "tables": [{"table": "public.orders", "columns": [...], "where": "..." or null}],
//    "snapshot": {"held_until": "..."} or null, "consumer": {"connected": bool},
//    "observers", "acked_lsn", "lag_bytes", "lag_warning", "created_lsn"}
struct v2_stream_view {
  std::string name;
  std::string json;
};

// The row streams of the reader's `list` reply, with this gateway's observers and
// snapshots. Call on the I/O thread (the hub is read).
std::vector<v2_stream_view> row_streams(gateway_context& context, std::string_view list_reply);

enum class lag_samples { omitted, included };

// GET /v2/slots: every slot of the reader's `list` reply, v1's and v2's, as a JSON array:
//   [{"slot", "api": "v1"|"v2", "name" (the v2 name, or the slot), "tables" (v2; null for
//     v1, which has every table), "consumer", "observers", "acked_lsn", "lag_bytes",
//     "lag_warning", "messages_received" (this gateway's counter), "lag_history" (included)}]
// A token limited to some v2 streams sees only those. On the I/O thread.
std::string all_slots(gateway_context& context, std::string_view list_reply,
                      const std::optional<access_grant>& grant, lag_samples history);

}  // namespace deltastream::gateway
