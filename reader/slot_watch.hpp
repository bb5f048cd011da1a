#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace deltastream::reader {

struct slot_watch_settings {
  std::uint64_t lag_warning_bytes = std::uint64_t{1} << 30;
  std::chrono::seconds drop_unattached_after{0};  // 0: never drop
};

// Looks after the delta_ slots between requests: warns once when a slot's lag (WAL that
// PostgreSQL keeps for it) passes the threshold, and, when asked to, picks the slots
// nobody has streamed for `drop_unattached_after` so that a forgotten slot does not
// fill the disk. Pure: the registry feeds it the slots and carries out the drops.
class slot_watch {
 public:
  using clock = std::chrono::steady_clock;

  struct slot {
    std::string name;
    std::int64_t lag_bytes = 0;
    bool in_use = false;  // attached here, streamed by someone else, or its snapshot held
  };
  struct verdict {
    std::vector<std::string> lag_warnings;  // newly over the threshold
    std::vector<std::string> to_drop;
  };

  explicit slot_watch(const slot_watch_settings& settings) : settings_(settings) {}

  verdict review(const std::vector<slot>& slots, clock::time_point now);
  bool lagging(const std::string& name) const { return lagging_.count(name) > 0; }
  // Whether a lag is over the threshold: what `list` shows beside the lag it read, so that
  // the two always agree (lagging() is as of the last review).
  bool over_threshold(std::int64_t lag_bytes) const {
    return lag_bytes >= 0 && static_cast<std::uint64_t>(lag_bytes) >= settings_.lag_warning_bytes;
  }

 private:
  const slot_watch_settings& settings_;
  std::map<std::string, clock::time_point> unused_since_;
  std::set<std::string> lagging_;
};

}  // namespace deltastream::reader
