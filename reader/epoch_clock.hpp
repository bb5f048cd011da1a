#pragma once

#include <chrono>
#include <cstdint>

namespace deltastream::reader {

// Hands out stream epochs: microseconds since the Unix epoch, strictly increasing within
// the process. Time-based so that a restarted reader never repeats an epoch that
// subscribers saw from the previous process.
class epoch_clock {
 public:
  std::uint64_t next() {
    const auto now = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count());
    last_ = now > last_ ? now : last_ + 1;
    return last_;
  }

 private:
  std::uint64_t last_ = 0;
};

}  // namespace deltastream::reader
