#include "reader/slot_watch.hpp"

namespace deltastream::reader {

slot_watch::verdict slot_watch::review(const std::vector<slot>& slots, clock::time_point now) {
  verdict result;
  std::map<std::string, clock::time_point> unused_since;
  std::set<std::string> lagging;
  for (const auto& current : slots) {
    if (over_threshold(current.lag_bytes)) {
      if (!lagging_.count(current.name)) result.lag_warnings.push_back(current.name);
      lagging.insert(current.name);
    }
    if (current.in_use) continue;
    // Unused since we first saw it unused (a restarted reader starts the clock anew).
    const auto found = unused_since_.find(current.name);
    const auto since = found == unused_since_.end() ? now : found->second;
    unused_since[current.name] = since;
    if (settings_.drop_unattached_after.count() > 0 &&
        now - since >= settings_.drop_unattached_after) {
      result.to_drop.push_back(current.name);
    }
  }
  unused_since_ = std::move(unused_since);  // slots gone or in use are forgotten
  lagging_ = std::move(lagging);
  return result;
}

}  // namespace deltastream::reader
