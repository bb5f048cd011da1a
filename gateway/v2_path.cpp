#include "gateway/v2_path.hpp"

namespace deltastream::gateway {

namespace {

constexpr std::string_view collection = "/v2/streams";
constexpr std::string_view slot_prefix = "delta_v2_";

}  // namespace

std::optional<v2_path> parse_v2_path(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (!path.starts_with(collection)) return std::nullopt;
  path.remove_prefix(collection.size());
  if (path.empty()) return v2_path{};
  if (path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  const auto slash = path.find('/');
  v2_path parsed{std::string(path.substr(0, slash)), {}};
  if (slash != std::string_view::npos) parsed.action = std::string(path.substr(slash + 1));
  return parsed;
}

bool valid_v2_name(std::string_view name) {
  if (name.empty() || name.size() > 40 || name.front() < 'a' || name.front() > 'z') return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string v2_slot(std::string_view name) { return std::string(slot_prefix) + std::string(name); }

std::string v2_name_of_slot(std::string_view slot) {
  return slot.starts_with(slot_prefix) ? std::string(slot.substr(slot_prefix.size())) : std::string();
}

}  // namespace deltastream::gateway
