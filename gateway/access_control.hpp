#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/beast/http.hpp>

#include "gateway/access_tokens.hpp"
#include "gateway/http_response.hpp"
#include "gateway/query_string.hpp"

namespace deltastream::gateway {

using http_request = http::request<http::string_body>;

// Who may use the gateway: bearer tokens with scopes, and which web pages may open
// WebSockets to it.
struct access_policy {
  std::optional<access_tokens> tokens;  // none: no authentication (loopback unless allowed)
  bool allow_unauthenticated = false;   // serve other interfaces without tokens anyway
  // Origins (scheme://host[:port]) whose pages may open WebSockets; "*" allows any.
  // Empty: only the gateway's own origin (the Host header), as pgdeltastream's
  // gorilla/websocket did. Clients that send no Origin (non-browsers) are not checked.
  std::vector<std::string> allowed_origins;
};

// The bearer token of a request: its Authorization header, or ?access_token= (empty: none).
std::string presented_token(const http_request& request, const request_target& target);

// nullopt lets the request through; otherwise the 401/403 to answer with.
std::optional<http_response> check_access(const access_policy& policy, const http_request& request,
                                          const request_target& target, bool websocket);

}  // namespace deltastream::gateway
