#include "tests/integration/jetstream_read_options.hpp"

#include <CLI/CLI.hpp>

#include "common/command_line.hpp"
#include "common/errors.hpp"

namespace deltastream::jetstream_read {

namespace {

std::pair<std::string, std::string> parse_header(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    throw config_error("--header: \"" + text + "\" is not NAME:VALUE");
  }
  return {text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

tool_options parse_tool_options(int argc, char** argv) {
  tool_options options;
  CLI::App app{
      "jetstream-read: the integration tests' NATS JetStream client. Reads a stream through a "
      "durable pull consumer, one JSON line per message on stdout (default), or prints a "
      "stream's state (--info), creates a stream (--create-stream), changes its message limit "
      "(--update-max-msgs), publishes test messages (--publish). Exit codes: 0 done, 1 usage or "
      "failure, 2 NATS unreachable or erring for the whole --error-budget-ms, 3 no such stream, "
      "4 refused by the stream.",
      "jetstream-read"};
  app.add_option("--servers", options.servers, "NATS URLs, comma-separated; any one that answers will do")
      ->delimiter(',')
      ->required();
  app.add_option("--stream", options.stream, "The stream's name")->required();
  int error_budget_ms = 30'000;
  app.add_option("--error-budget-ms", error_budget_ms,
                 "How long NATS errors (leader election, a node down) may last before exit code 2")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();

  // Reading (the default mode).
  auto& read = options.read;
  app.add_option("--durable", read.durable, "The durable consumer to read with (created if missing)");
  app.add_option("--filter", read.filter, "Only this subject (a consumer created here keeps it as its filter)");
  int idle_ms = 3000;
  app.add_option("--idle-ms", idle_ms, "Exit 0 once no message came for this long (and the consumer has none pending)")
      ->check(CLI::Range(1, 600'000))
      ->capture_default_str();
  app.add_option("--max", read.max, "Exit 0 after this many messages")
      ->check(CLI::Range(std::uint64_t{1}, ~std::uint64_t{0}));
  bool no_ack = false;
  app.add_flag("--no-ack", no_ack,
               "Do not acknowledge; hand the messages back (NAK) on exit, so that the next read gets them again");
  app.add_option("--batch", read.batch, "Messages per fetch")->check(CLI::Range(1, 10'000))->capture_default_str();
  int ack_wait_ms = 5000;
  app.add_option("--ack-wait-ms", ack_wait_ms,
                 "AckWait of a consumer created here: when a message lost in flight (a node killed) "
                 "is delivered again")
      ->check(CLI::Range(100, 3'600'000))
      ->capture_default_str();

  // --info
  bool info = false;
  app.add_flag("--info", info, "Print the stream's state as one JSON line");

  // --create-stream
  bool create = false;
  auto& created = options.create;
  app.add_flag("--create-stream", create, "Create the stream (an identical existing one is fine)");
  app.add_option("--subjects", created.subjects, "The new stream's subjects, comma-separated")->delimiter(',');
  app.add_option("--replicas", created.replicas)->check(CLI::Range(1, 5))->capture_default_str();
  app.add_option("--max-msgs", created.max_msgs, "Message limit (default none)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 62));
  bool discard_new = false;
  app.add_flag("--discard-new", discard_new, "At the limit, refuse new messages (default: drop the oldest)");

  // --update-max-msgs
  app.add_option("--update-max-msgs", options.update.max_msgs,
                 "Change the stream's message limit to N (-1: none), keeping the rest of its config")
      ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 62));

  // --publish
  auto& publish = options.publish;
  app.add_option("--publish", publish.subject, "Publish test messages to SUBJECT, one JSON line per publish ack");
  app.add_option("--count", publish.count)
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--first", publish.first, "The number of the first message (its id is PREFIX<first>)")
      ->capture_default_str();
  app.add_option("--msg-id-prefix", publish.msg_id_prefix,
                 "Nats-Msg-Id of message i is PREFIX<i>: a repeat is stored once");
  std::string data;
  app.add_option("--data", data, "Every message's payload (default: its Nats-Msg-Id)");
  std::vector<std::string> headers;
  app.add_option("--header", headers, "NAME:VALUE, repeatable");

  parse_command_line(app, argc, argv);

  const auto given = [&](const char* flag) { return app.count(flag) > 0; };
  const bool publishing = !publish.subject.empty();
  const bool updating = given("--update-max-msgs");
  if (info + create + updating + publishing > 1) {
    throw config_error("--info, --create-stream, --update-max-msgs and --publish: give one of them");
  }
  options.mode = info ? tool_mode::info
               : create ? tool_mode::create_stream
               : updating ? tool_mode::update_max_msgs
               : publishing ? tool_mode::publish
                            : tool_mode::read;
  if (options.mode != tool_mode::read) {
    for (const char* flag : {"--durable", "--filter", "--idle-ms", "--max", "--no-ack", "--batch", "--ack-wait-ms"}) {
      if (given(flag)) throw config_error(std::string(flag) + " is for reading");
    }
  } else if (read.durable.empty()) {
    throw config_error("--durable is missing (or --info, --create-stream, --update-max-msgs, --publish)");
  }
  if (options.mode != tool_mode::create_stream) {
    for (const char* flag : {"--subjects", "--replicas", "--max-msgs", "--discard-new"}) {
      if (given(flag)) throw config_error(std::string(flag) + " is for --create-stream");
    }
  } else if (created.subjects.empty()) {
    throw config_error("--create-stream needs --subjects");
  }
  if (options.mode != tool_mode::publish) {
    for (const char* flag : {"--count", "--first", "--msg-id-prefix", "--data", "--header"}) {
      if (given(flag)) throw config_error(std::string(flag) + " is for --publish");
    }
  } else if (publish.msg_id_prefix.empty()) {
    throw config_error("--publish needs --msg-id-prefix (deduplication is what the tests check)");
  }
  if (given("--data")) publish.data = data;
  for (const auto& header : headers) publish.headers.push_back(parse_header(header));
  read.idle = std::chrono::milliseconds(idle_ms);
  read.ack = no_ack ? ack_mode::no_ack : ack_mode::ack;
  read.ack_wait = std::chrono::milliseconds(ack_wait_ms);
  created.discard = discard_new ? discard_mode::new_messages : discard_mode::old_messages;
  options.error_budget = std::chrono::milliseconds(error_budget_ms);
  return options;
}

}  // namespace deltastream::jetstream_read
