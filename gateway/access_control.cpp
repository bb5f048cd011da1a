#include "gateway/access_control.hpp"

#include <algorithm>
#include <cctype>

#include "gateway/console_page.hpp"
#include "gateway/v2_path.hpp"

namespace deltastream::gateway {

namespace {

// Boost 1.74's Beast has its own string_view.
std::string_view field(const http_request& request, http::field name) {
  const auto value = request[name];
  return {value.data(), value.size()};
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// What each request needs; nullopt: open to anyone (health checks).
std::optional<access_scope> required_scope(const std::string& path, http::verb method) {
  if (path == "/healthz" || path == "/readyz") return std::nullopt;
  if (is_console_path(path)) return std::nullopt;  // the page itself; its API calls need tokens
  if (path == "/v1/init" || path == "/v1/init/") return access_scope::admin;
  if (const auto v2 = parse_v2_path(path)) {
    const bool changes = (v2->name.empty() && method == http::verb::post) ||
                         (!v2->name.empty() && v2->action.empty() && method == http::verb::delete_);
    if (changes) return access_scope::admin;
  }
  return access_scope::read;
}

// A token limited to some v2 streams reads those, and the list (which shows only
// them); nothing else, v1 included.
bool within_streams(const access_grant& grant, const std::string& path) {
  if (!grant.limited() || path == "/v2/slots") return true;  // the list shows only its streams
  const auto v2 = parse_v2_path(path);
  return v2 && (v2->name.empty() || grant.reads(v2->name));
}

}  // namespace

std::string presented_token(const http_request& request, const request_target& target) {
  const auto header = field(request, http::field::authorization);
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() > scheme.size() && equal_ignoring_case(header.substr(0, scheme.size()), scheme)) {
    return std::string(header.substr(scheme.size()));
  }
  // Browsers cannot set headers on a WebSocket: the token may come in the URL.
  return target.param("access_token");
}

namespace {

http_response unauthorized(std::string_view message, std::string_view challenge) {
  auto response = json_error(http::status::unauthorized, message);
  response.set(http::field::www_authenticate, std::string(challenge));
  return response;
}

bool origin_allowed(const access_policy& policy, std::string_view origin, std::string_view host) {
  // Same origin (the Origin's host[:port] is the Host the page asked for): the gateway's
  // own pages, its console, whatever the list says.
  const auto start = origin.find("://");
  if (start != std::string_view::npos && equal_ignoring_case(origin.substr(start + 3), host)) return true;
  return std::any_of(policy.allowed_origins.begin(), policy.allowed_origins.end(),
                     [origin](const std::string& allowed) {
                       return allowed == "*" || equal_ignoring_case(allowed, origin);
                     });
}

}  // namespace

std::optional<http_response> check_access(const access_policy& policy, const http_request& request,
                                          const request_target& target, bool websocket) {
  if (websocket) {
    const auto origin = field(request, http::field::origin);
    if (!origin.empty() && !origin_allowed(policy, origin, field(request, http::field::host))) {
      return json_error(http::status::forbidden,
                        "origin \"" + std::string(origin) + "\" is not allowed (--allowed-origins)");
    }
  }
  const auto needed = required_scope(target.path, request.method());
  if (!policy.tokens || !needed) return std::nullopt;
  const auto token = presented_token(request, target);
  if (token.empty()) {
    return unauthorized("missing bearer token: send \"Authorization: Bearer <token>\" (or "
                        "?access_token=<token> on a WebSocket URL)",
                        "Bearer realm=\"deltastream\"");
  }
  const auto grant = policy.tokens->authorize(token);
  if (!grant) return unauthorized("invalid token", "Bearer realm=\"deltastream\", error=\"invalid_token\"");
  if (*needed == access_scope::admin && grant->scope != access_scope::admin) {
    return json_error(http::status::forbidden, target.path + " needs a token with the admin scope");
  }
  if (!within_streams(*grant, target.path)) {
    std::string names;
    for (const auto& name : grant->streams) names += (names.empty() ? "" : ", ") + name;
    return json_error(http::status::forbidden, "this token reads only the v2 streams " + names);
  }
  return std::nullopt;
}

}  // namespace deltastream::gateway
