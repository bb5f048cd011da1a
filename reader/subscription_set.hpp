#pragma once

#include <set>
#include <string>
#include <string_view>

namespace deltastream::reader {

// The subscriptions the data socket's subscribers hold, from its XPUB's notices: a byte
// 1 (subscribe) or 0 (unsubscribe), then the topic prefix. The XPUB reports a prefix's
// first subscriber and its last one leaving (a subscriber that disconnects leaves too),
// so a set is exactly what is subscribed now. ZeroMQ drops what is published before a
// subscription arrives: a stream waits for one before its epoch's first frame.
class subscription_set {
 public:
  // Applies one notice; true when the set changed.
  bool apply(std::string_view notice);
  // Whether some subscriber receives messages published on `topic`.
  bool covers(std::string_view topic) const;
  bool contains(std::string_view subscription) const { return prefixes_.contains(subscription); }

 private:
  std::set<std::string, std::less<>> prefixes_;
};

}  // namespace deltastream::reader
