#pragma once

#include <cstddef>
#include <string>

#include "common/curve_keys.hpp"
#include "reader/stream_registry.hpp"

namespace deltastream::reader {

struct reader_options {
  std::string control_endpoint = "tcp://127.0.0.1:5590";
  std::string publish_endpoint = "tcp://127.0.0.1:5591";
  int high_water_mark = 10'000;  // messages per subscriber before back pressure
  std::size_t max_queued_bytes = 64 << 20;  // payload bytes in ZeroMQ's queues, all subscribers
  std::string log_level = "info";
  registry_settings registry;
  curve_settings curve;  // CURVE on the control and data sockets when it has a keypair
};

// Parses flags and environment (flags win). --help and --version print and exit 0;
// a bad setting throws config_error naming it.
reader_options parse_reader_options(int argc, char** argv);

}  // namespace deltastream::reader
