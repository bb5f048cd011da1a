#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace deltastream::gateway {

// Each slot's lag (bytes of WAL PostgreSQL keeps for it) as this gateway sampled it
// over the last `span`: what the console draws, so that a slot that has been holding WAL
// back for ten minutes shows it the moment someone looks. Kept in memory: a gateway's
// restart starts it afresh. Used on the I/O thread only.
class lag_history {
 public:
  struct sample {
    std::int64_t unix_seconds = 0;
    std::int64_t lag_bytes = 0;
  };

  explicit lag_history(std::chrono::seconds span = std::chrono::minutes(15)) : span_(span) {}

  // One round of samples, taken at `now`, from the reader's list reply (its "streams":
  // [{"stream", "lag_bytes"}]). Slots absent from it are forgotten: they were dropped.
  void record(std::string_view list_reply, std::chrono::system_clock::time_point now);

  // The slot's samples of the window that ends at `now`, oldest first, as JSON:
  // [[unix_seconds, bytes], ...] (a reader that stopped answering stops the recording, not
  // the window).
  std::string json_of(const std::string& slot, std::chrono::system_clock::time_point now) const;

  static constexpr std::chrono::seconds interval{10};

 private:
  std::chrono::seconds span_;
  std::map<std::string, std::deque<sample>> slots_;
};

}  // namespace deltastream::gateway
