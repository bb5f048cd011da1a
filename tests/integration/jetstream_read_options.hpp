#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace deltastream::jetstream_read {

// jetstream-read's exit codes, which the integration tests assert on.
enum class tool_exit : int {
  ok = 0,
  failure = 1,      // usage, a closed stdout, an unexpected NATS answer
  unreachable = 2,  // no server answered, or errors lasted the whole error budget
  no_stream = 3,
  rejected = 4,     // the stream refused a publish or a create (limits, config clash)
};

enum class tool_mode { read, info, create_stream, update_max_msgs, publish };
enum class ack_mode { ack, no_ack };
enum class discard_mode { old_messages, new_messages };

struct read_options {
  std::string durable;
  std::string filter;  // empty: the whole stream
  std::chrono::milliseconds idle{3000};
  std::uint64_t max = 0;  // 0: until idle
  ack_mode ack = ack_mode::ack;
  int batch = 100;
  std::chrono::milliseconds ack_wait{5000};  // only when the durable is created here
};

struct create_options {
  std::vector<std::string> subjects;
  int replicas = 1;
  std::int64_t max_msgs = -1;  // -1: no limit
  discard_mode discard = discard_mode::old_messages;
};

struct update_options {
  std::int64_t max_msgs = -1;  // -1: no limit
};

struct publish_options {
  std::string subject;
  std::uint64_t count = 1;
  std::uint64_t first = 1;  // message i gets the id <prefix><i>
  std::string msg_id_prefix;
  std::optional<std::string> data;  // default: the message id
  std::vector<std::pair<std::string, std::string>> headers;
};

struct tool_options {
  tool_mode mode = tool_mode::read;
  std::vector<std::string> servers;
  std::string stream;
  // How long NATS errors (no leader, no responders, timeouts) may last without a success
  // in between before the tool gives up with exit code 2: a leader election takes seconds.
  std::chrono::milliseconds error_budget{30'000};
  read_options read;
  create_options create;
  update_options update;
  publish_options publish;
};

// Throws config_error naming the wrong flag; --help prints and exits.
tool_options parse_tool_options(int argc, char** argv);

}  // namespace deltastream::jetstream_read
