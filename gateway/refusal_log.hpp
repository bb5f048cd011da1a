#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace deltastream::gateway {

// The log lines of refused requests. Each names who asked for what and why not, but a
// client that sends nothing else must not fill the disk at its own rate: at most
// `lines_per_second` a second, and the next line written says how many were held back.
// I/O thread only, like the sessions that write them.
class refusal_log {
 public:
  using clock = std::chrono::steady_clock;

  explicit refusal_log(std::size_t lines_per_second = 50) : limit_(lines_per_second) {}

  // Writes `line` at info under `module`'s logger, unless this second's lines are spent.
  void write(const std::string& module, const std::string& line);

  // Whether a line may be written at `now`; if so, `held_back` is how many were not
  // since the last one that was.
  bool admit(clock::time_point now, std::size_t& held_back);

 private:
  std::size_t limit_;
  clock::time_point window_start_{};
  std::size_t written_in_window_ = 0;
  std::size_t held_back_ = 0;
};

}  // namespace deltastream::gateway
