#include "common/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/errors.hpp"

namespace deltastream {

void setup_logging(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str maps anything unknown to "off"; only accept "off" when asked for it.
  if (parsed == spdlog::level::off && level != "off") {
    throw config_error("--log-level: unknown level '" + level +
                       "' (trace, debug, info, warn, error, critical, off)");
  }
  spdlog::set_level(parsed);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
}

std::shared_ptr<spdlog::logger> module_logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  // Logs go to stderr so that stdout stays free for machine-readable output.
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_level(spdlog::get_level());
  return logger;
}

}  // namespace deltastream
