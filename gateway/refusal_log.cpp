#include "gateway/refusal_log.hpp"

#include <utility>

#include "common/logging.hpp"

namespace deltastream::gateway {

bool refusal_log::admit(clock::time_point now, std::size_t& held_back) {
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    written_in_window_ = 0;
  }
  if (written_in_window_ >= limit_) {
    ++held_back_;
    return false;
  }
  ++written_in_window_;
  held_back = std::exchange(held_back_, 0);
  return true;
}

void refusal_log::write(const std::string& module, const std::string& line) {
  std::size_t held_back = 0;
  if (!admit(clock::now(), held_back)) return;
  auto log = module_logger(module);
  if (held_back > 0) {
    log->info("{} refusal(s) not logged: over {} a second", held_back, limit_);
  }
  log->info("{}", line);
}

}  // namespace deltastream::gateway
