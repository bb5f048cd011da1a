#include "proto/tail_options.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "common/curve_options.hpp"
#include "common/command_line.hpp"
#include "common/errors.hpp"
#include "common/stream_name.hpp"
#include "proto/reader_flags.hpp"

namespace deltastream::proto {

tail_options parse_tail_options(int argc, char** argv) {
  tail_options options;
  CLI::App app{
      "deltastream-tail: prints a deltastream stream's messages, one JSON line each, reading the "
      "reader's ZeroMQ sockets directly. Exit codes: 0 done, 1 usage, 2 reader unreachable, "
      "3 no such stream (or dropped), 4 another consumer holds it (or took it over), "
      "5 refused by the reader or PostgreSQL.",
      "deltastream-tail"};
  app.add_option("stream", options.stream, "The stream (delta_...) to follow or drop");
  bool list = false;
  bool drop = false;
  app.add_flag("--list", list, "List the streams with their lag (a table on a terminal, JSON otherwise)");
  app.add_flag("--drop", drop, "Drop STREAM (its replication slot) and exit");
  app.add_flag("--create", options.create,
               "Create a new stream (named STREAM if given), print its name and snapshot on stderr, follow it");
  app.add_flag("--ack", options.ack,
               "Acknowledge each message once its line is written and flushed (at-least-once for the pipe)");
  app.add_flag("--observe", options.observe, "Watch without a lease or ACKs (the consumer is left alone)");
  app.add_flag("--takeover", options.takeover, "Replace the stream's current consumer");
  app.add_option("--consumer", options.consumer,
                 "This consumer's name; the same name re-attaches at once after a crash "
                 "(default: deltastream-tail@HOST:PID)")
      ->envname("DELTASTREAM_CONSUMER");
  std::uint64_t count = 0;
  app.add_option("--count", count, "Exit after N messages (after acknowledging them, with --ack)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62));
  int call_timeout_ms = 10'000;
  add_reader_flags(app, options.reader, call_timeout_ms);
  int give_up_seconds = 60;
  app.add_option("--give-up-after", give_up_seconds,
                 "Seconds a reader that had answered may go silent (stopped, unreachable) before exit code 2")
      ->envname("DELTASTREAM_GIVE_UP_AFTER")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  add_curve_options(app, options.reader.curve, curve_role::client);
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, critical, off (stderr)")
      ->envname("DELTASTREAM_LOG_LEVEL")
      ->capture_default_str();
  parse_command_line(app, argc, argv);
  if (list + drop + options.create > 1) throw config_error("--list, --drop and --create: give one of them");
  options.what = list ? tail_options::action::list : drop ? tail_options::action::drop : tail_options::action::follow;
  if (list && !options.stream.empty()) throw config_error("--list takes no STREAM");
  if (!list && !options.create && options.stream.empty()) {
    throw config_error("STREAM is missing (or --create a new one, or --list the streams)");
  }
  if (!options.stream.empty() && !stream_name::parse(options.stream)) {
    throw config_error("STREAM: \"" + options.stream +
                       "\" is not a stream name (delta_ followed by 1-57 of a-z, 0-9, _)");
  }
  if (options.observe && (options.ack || options.takeover || !options.consumer.empty())) {
    throw config_error("--observe: an observer holds no lease and sends no ACK (no --ack, --takeover, --consumer)");
  }
  if (options.what != tail_options::action::follow &&
      (options.ack || options.observe || options.takeover || count != 0)) {
    throw config_error("--ack, --observe, --takeover and --count are for following a stream");
  }
  if (count != 0) options.count = count;
  if (!options.observe && options.consumer.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    options.consumer = std::string("deltastream-tail@") + host + ":" + std::to_string(getpid());
  }
  options.reader.call_timeout = std::chrono::milliseconds(call_timeout_ms);
  options.give_up_after = std::chrono::seconds(give_up_seconds);
  load_curve_settings(options.reader.curve, curve_role::client);
  return options;
}

}  // namespace deltastream::proto
