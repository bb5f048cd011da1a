#pragma once

#include <atomic>

#include "proto/tail_options.hpp"

namespace deltastream::proto {

// deltastream-tail's exit codes (README "deltastream-tail").
enum class tail_exit : int {
  done = 0,            // --count reached, SIGINT/SIGTERM, or stdout closed
  usage = 1,           // a bad flag or key file
  unreachable = 2,     // the reader did not answer
  gone = 3,            // no such stream, or it was dropped
  other_consumer = 4,  // another consumer holds the stream, or took it over
  refused = 5,         // the reader or PostgreSQL refused
};

// Runs what the options ask for until done or `stop` is set; logs go to stderr.
tail_exit run_tail(const tail_options& options, const std::atomic<bool>& stop);

}  // namespace deltastream::proto
