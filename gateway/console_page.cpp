#include "gateway/console_page.hpp"

#include <functional>
#include <string>

#include "gateway/console_assets.hpp"

namespace deltastream::gateway {

namespace {

constexpr std::string_view prefix = "/console";

// Every file is answered with these: the page may load only its own files and talk only
// to its own origin (HTTP and WebSocket), and may not be framed by another site.
constexpr std::string_view content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const console_asset* find_asset(std::string_view path) {
  std::string_view name = path.size() <= prefix.size() + 1 ? "index.html" : path.substr(prefix.size() + 1);
  for (const auto& asset : console_assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

// The files change only with the binary: a hash of the body tells the browser whether
// its cached copy is current.
std::string entity_tag(const console_asset& asset) {
  return "\"" + std::to_string(std::hash<std::string_view>{}(asset.body)) + "\"";
}

}  // namespace

bool is_console_path(std::string_view path) {
  return path == prefix || (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

http_response console_response(const http_request& request, std::string_view path) {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    auto response = json_error(http::status::method_not_allowed, "method not allowed; use GET");
    response.set(http::field::allow, "GET, HEAD");
    return response;
  }
  const auto* asset = find_asset(path);
  if (!asset) return json_error(http::status::not_found, "not found: " + std::string(path));
  const auto tag = entity_tag(*asset);
  const bool current = request[http::field::if_none_match] == tag;
  http_response response{current ? http::status::not_modified : http::status::ok, request.version()};
  response.set(http::field::etag, tag);
  response.set(http::field::cache_control, "no-cache");
  response.set("Content-Security-Policy", std::string(content_security_policy));
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  if (current) return response;
  response.set(http::field::content_type, std::string(asset->content_type));
  if (request.method() == http::verb::head) {
    response.content_length(asset->body.size());
  } else {
    response.body() = std::string(asset->body);
    response.prepare_payload();
  }
  return response;
}

}  // namespace deltastream::gateway
