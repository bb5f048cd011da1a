#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace deltastream::gateway {

// A request target split into its path and decoded query parameters
// ("/v1/lr/stream?slotName=delta_x&mode=observe"). Percent-escapes and '+' are decoded;
// a malformed escape makes the whole target invalid (nullopt). Later duplicates win.
struct request_target {
  std::string path;
  std::map<std::string, std::string> query;

  std::string param(const std::string& name) const {
    const auto found = query.find(name);
    return found == query.end() ? std::string() : found->second;
  }
};

std::optional<request_target> parse_target(std::string_view target);

}  // namespace deltastream::gateway
