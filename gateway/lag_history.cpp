#include "gateway/lag_history.hpp"

#include <set>

#include <simdjson.h>

namespace deltastream::gateway {

void lag_history::record(std::string_view list_reply, std::chrono::system_clock::time_point now) {
  simdjson::dom::parser parser;
  simdjson::dom::array streams;
  if (parser.parse(list_reply.data(), list_reply.size(), true)["streams"].get_array().get(streams)) return;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::set<std::string, std::less<>> listed;
  for (auto item : streams) {
    std::string_view name;
    std::int64_t lag = 0;
    if (item["stream"].get_string().get(name) || item["lag_bytes"].get_int64().get(lag)) continue;
    listed.emplace(name);
    auto& samples = slots_[std::string(name)];
    samples.push_back({seconds, lag});
    while (!samples.empty() && samples.front().unix_seconds <= seconds - span_.count()) samples.pop_front();
  }
  std::erase_if(slots_, [&listed](const auto& entry) { return !listed.contains(entry.first); });
}

std::string lag_history::json_of(const std::string& slot, std::chrono::system_clock::time_point now) const {
  const auto oldest = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() - span_.count();
  std::string out = "[";
  if (const auto found = slots_.find(slot); found != slots_.end()) {
    for (const auto& each : found->second) {
      if (each.unix_seconds <= oldest) continue;
      if (out.size() > 1) out += ',';
      out += '[' + std::to_string(each.unix_seconds) + ',' + std::to_string(each.lag_bytes) + ']';
    }
  }
  return out + "]";
}

}  // namespace deltastream::gateway
