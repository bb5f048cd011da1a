#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace deltastream {

// Sets the level of every module logger ("trace".."critical", "off"); throws
// config_error naming --log-level on an unknown level.
void setup_logging(const std::string& level);

// One named logger per module ("reader", "control", "stream", ...), created on first use.
std::shared_ptr<spdlog::logger> module_logger(const std::string& name);

// Text a client sent, made safe for a log line: control characters as \xNN (a newline
// would forge a line of its own), and at most `limit` bytes.
std::string printable(std::string_view text, std::size_t limit = 200);

}  // namespace deltastream
