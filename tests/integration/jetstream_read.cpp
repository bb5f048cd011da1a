// jetstream-read: the integration tests' NATS JetStream client (what `nats` CLI would be,
// without its Go toolchain): reads a stream through a durable pull consumer as JSON lines,
// prints a stream's state, creates streams, changes their message limit and publishes
// deduplicated test messages. It
// rides out a node kill: NATS errors are retried for --error-budget-ms.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "common/errors.hpp"
#include "tests/integration/jetstream_read_admin.hpp"
#include "tests/integration/jetstream_read_consume.hpp"
#include "tests/integration/jetstream_read_options.hpp"
#include "tests/integration/jetstream_read_session.hpp"

namespace {

using namespace deltastream::jetstream_read;

void run(const tool_options& options) {
  error_budget budget(options.error_budget);
  nats_session session(options.servers, budget);
  switch (options.mode) {
    case tool_mode::read:
      read_stream(session, budget, options.stream, options.read, stdout);
      break;
    case tool_mode::info:
      print_stream_info(session, budget, options.stream, stdout);
      break;
    case tool_mode::create_stream:
      create_stream(session, budget, options.stream, options.create, stdout);
      break;
    case tool_mode::update_max_msgs:
      update_max_msgs(session, budget, options.stream, options.update.max_msgs, stdout);
      break;
    case tool_mode::publish:
      publish_messages(session, budget, options.stream, options.publish, stdout);
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is a failed write, exit code 1
  int exit_code = 0;
  try {
    run(parse_tool_options(argc, argv));
  } catch (const deltastream::config_error& error) {
    std::cerr << "jetstream-read: " << error.what() << " (see --help)\n";
    exit_code = static_cast<int>(tool_exit::failure);
  } catch (const tool_error& error) {
    std::cerr << "jetstream-read: " << error.what() << '\n';
    exit_code = static_cast<int>(error.code);
  } catch (const std::exception& error) {
    std::cerr << "jetstream-read: " << error.what() << '\n';
    exit_code = static_cast<int>(tool_exit::failure);
  }
  nats_Close();  // nats.c's threads, after the session is gone
  return exit_code;
}
