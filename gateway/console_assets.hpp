#pragma once

#include <string_view>
#include <vector>

namespace deltastream::gateway {

// One file of the console (gateway/console/), compiled into the binary by
// gateway/console/embed.cmake: no CDN and nothing to install beside the gateway.
struct console_asset {
  std::string_view name;  // "index.html", "console.js", ...
  std::string_view content_type;
  std::string_view body;
};

const std::vector<console_asset>& console_assets();

}  // namespace deltastream::gateway
