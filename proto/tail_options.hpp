#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "proto/control_client.hpp"

namespace deltastream::proto {

// deltastream-tail's command line (`deltastream-tail --help` lists it, README shows it).
struct tail_options {
  enum class action { follow, list, drop };
  action what = action::follow;
  std::string stream;  // follow, drop; follow --create: the new stream's name (optional)
  bool create = false;     // follow a stream created for the purpose
  bool ack = false;        // acknowledge each message once its line is written and flushed
  bool observe = false;    // no lease, no ACK: watch what is live
  bool takeover = false;   // replace the stream's current consumer
  std::string consumer;    // the lease holder's name (a stable one re-attaches at once after a crash)
  std::optional<std::uint64_t> count;  // exit after this many messages
  reader_endpoints reader;
  std::chrono::seconds give_up_after{60};  // a reader silent this long, once it had answered
  std::string log_level = "info";
};

// Throws config_error (exit code 1) naming the flag that is wrong; --help prints and exits.
tail_options parse_tail_options(int argc, char** argv);

}  // namespace deltastream::proto
