#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace deltastream {

// Sets the level of every module logger ("trace".."critical", "off"); throws
// config_error naming --log-level on an unknown level.
void setup_logging(const std::string& level);

// One named logger per module ("reader", "control", "stream", ...), created on first use.
std::shared_ptr<spdlog::logger> module_logger(const std::string& name);

}  // namespace deltastream
