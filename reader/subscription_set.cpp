#include "reader/subscription_set.hpp"

namespace deltastream::reader {

bool subscription_set::apply(std::string_view notice) {
  if (notice.empty()) return false;
  const auto prefix = notice.substr(1);
  switch (notice.front()) {
    case 1: return prefixes_.emplace(prefix).second;
    case 0: {
      const auto found = prefixes_.find(prefix);
      if (found == prefixes_.end()) return false;
      prefixes_.erase(found);
      return true;
    }
    default: return false;  // not a notice (an XPUB passes other messages on as they are)
  }
}

bool subscription_set::covers(std::string_view topic) const {
  for (std::size_t length = 0; length <= topic.size(); ++length) {
    if (prefixes_.contains(topic.substr(0, length))) return true;
  }
  return false;
}

}  // namespace deltastream::reader
