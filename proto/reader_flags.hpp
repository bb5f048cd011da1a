#pragma once

#include "proto/control_client.hpp"

namespace CLI {
class App;
}

namespace deltastream::proto {

// The flags by which a tool finds the reader (--control, --publish, --reader-timeout-ms),
// with the gateway's variables. `call_timeout_ms` is read into `reader.call_timeout` by
// the caller after parsing. CURVE's flags are add_curve_options'.
void add_reader_flags(CLI::App& app, reader_endpoints& reader, int& call_timeout_ms);

}  // namespace deltastream::proto
