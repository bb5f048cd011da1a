#include "proto/reader_flags.hpp"

#include <CLI/CLI.hpp>

namespace deltastream::proto {

void add_reader_flags(CLI::App& app, reader_endpoints& reader, int& call_timeout_ms) {
  app.add_option("--control", reader.control, "The reader's ZeroMQ control endpoint")
      ->envname("DELTASTREAM_CONTROL")
      ->capture_default_str();
  app.add_option("--publish", reader.publish, "The reader's ZeroMQ data endpoint")
      ->envname("DELTASTREAM_PUBLISH")
      ->capture_default_str();
  app.add_option("--reader-timeout-ms", call_timeout_ms, "How long to wait for the reader to answer a request")
      ->envname("DELTASTREAM_READER_TIMEOUT_MS")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
}

}  // namespace deltastream::proto
