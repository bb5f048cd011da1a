#pragma once

#include <algorithm>
#include <chrono>

namespace deltastream {

// Exponential reconnect delay: 250 ms doubling to a cap of 10 s, reset on success.
class backoff {
 public:
  using duration = std::chrono::milliseconds;

  duration next() {
    const duration current = delay_;
    delay_ = std::min(delay_ * 2, max_delay);
    return current;
  }
  void reset() { delay_ = min_delay; }

  static constexpr duration min_delay{250};
  static constexpr duration max_delay{10'000};

 private:
  duration delay_ = min_delay;
};

}  // namespace deltastream
