#pragma once

#include <string>

#include "gateway/gateway_context.hpp"
#include "gateway/reader_link.hpp"

namespace deltastream::gateway {

struct gateway_options {
  gateway_settings server;
  link_settings link;
  std::string conninfo;
  std::string log_level = "info";
};

// Flags, environment (flags win), and pgdeltastream's single-dash flags (-db -user
// -password -pgHost -pgPort -serverHost -serverPort) so that its launch scripts work.
// --help and --version print and exit 0; a bad setting throws config_error naming it.
gateway_options parse_gateway_options(int argc, char** argv);

}  // namespace deltastream::gateway
