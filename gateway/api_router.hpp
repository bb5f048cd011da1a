#pragma once

#include <functional>
#include <variant>

#include <boost/beast/http.hpp>

#include "gateway/gateway_context.hpp"
#include "gateway/http_response.hpp"
#include "gateway/streamed_response.hpp"

namespace deltastream::gateway {

using http_request = http::request<http::string_body>;
// A whole response, or a 200 whose body comes piece by piece (/v1/snapshot/stream).
using http_reply = std::variant<http_response, streamed_response>;
using respond_function = std::function<void(http_reply)>;

// pgdeltastream's HTTP API (v1), /v1/snapshot/stream, /healthz, /readyz, /metrics. Answers through `respond`, possibly later
// and from another thread's completion posted back to the I/O thread. WebSocket
// upgrades never come here (the http_session hands them to a websocket_session).
void route_request(gateway_context& context, const http_request& request, respond_function respond);

// Runs `open` on a database thread and answers with the NDJSON of the COPY it started, or
// with its refusal (an exception: a 500).
using copy_opener = std::function<std::variant<snapshot_store::page, pg_conn>()>;
void respond_with_copy(gateway_context& context, respond_function respond, copy_opener open);

}  // namespace deltastream::gateway
