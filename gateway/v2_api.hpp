#pragma once

#include "gateway/api_router.hpp"
#include "gateway/query_string.hpp"

namespace deltastream::gateway {

// The native API (README, "The native API (v2)"): POST/GET /v2/streams, GET/DELETE
// /v2/streams/{name}, GET /v2/streams/{name}/snapshot. Streams are the reader's row
// streams (slot and publication delta_v2_{name}); /v2/streams/{name}/changes is a
// WebSocket (websocket_session). False when `target` is not a /v2/streams path.
bool route_v2(gateway_context& context, const http_request& request, const request_target& target,
              respond_function& respond);

}  // namespace deltastream::gateway
