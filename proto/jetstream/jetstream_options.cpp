#include "proto/jetstream/jetstream_options.hpp"

#include <CLI/CLI.hpp>

#include "common/command_line.hpp"
#include "common/curve_options.hpp"
#include "common/errors.hpp"
#include "common/stream_name.hpp"
#include "proto/reader_flags.hpp"
#include "proto/jetstream/subject_token.hpp"

namespace deltastream::jetstream {

namespace {

// "orders_sync" is the v2 stream delta_v2_orders_sync; a delta_ name is taken as it is.
std::string stream_of(const std::string& given) {
  const auto name = given.starts_with(stream_name::prefix) ? given : "delta_v2_" + given;
  if (!stream_name::parse(name)) {
    throw config_error("--follow: \"" + given + "\" is neither a v2 stream's name nor a stream (delta_...)");
  }
  return name;
}

}  // namespace

jetstream_options parse_jetstream_options(int argc, char** argv) {
  jetstream_options options;
  CLI::App app{
      "deltastream-jetstream: follows deltastream streams as their consumer and publishes every change "
      "into a NATS JetStream stream; a transaction is acknowledged to the reader only once JetStream "
      "has stored all of its messages.",
      "deltastream-jetstream"};
  app.add_option("--follow", options.follow,
                 "A stream to publish: a v2 stream's name (orders_sync) or a stream (delta_...); repeat or "
                 "separate with commas")
      ->envname("DELTASTREAM_JETSTREAM_FOLLOW")
      ->delimiter(',')
      ->required();
  app.add_option("--subject-prefix", options.subject_prefix,
                 "Subjects are <prefix>.<stream>.<schema>.<table> and <prefix>.<stream>._tx (v1: <prefix>.<slot>)")
      ->envname("DELTASTREAM_SUBJECT_PREFIX")
      ->capture_default_str();
  auto& nats = options.nats;
  app.add_option("--nats-servers", nats.servers, "NATS servers, comma-separated (nats:// or tls://)")
      ->envname("DELTASTREAM_NATS_SERVERS")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--nats-user", nats.user, "NATS user")->envname("DELTASTREAM_NATS_USER");
  app.add_option("--nats-password", nats.password, "NATS password (prefer the variable: a flag shows in ps)")
      ->envname("DELTASTREAM_NATS_PASSWORD");
  app.add_option("--nats-creds", nats.credentials_file, "A NATS credentials file (JWT and NKey seed)")
      ->envname("DELTASTREAM_NATS_CREDS")
      ->check(CLI::ExistingFile);
  app.add_flag("--nats-tls", nats.tls, "Require TLS to NATS (implied by tls:// servers and the TLS files)")
      ->envname("DELTASTREAM_NATS_TLS");
  app.add_option("--nats-tls-ca", nats.tls_ca_file, "CA certificates that NATS servers' certificates must chain to")
      ->envname("DELTASTREAM_NATS_TLS_CA")
      ->check(CLI::ExistingFile);
  app.add_option("--nats-tls-cert", nats.tls_cert_file, "A client certificate (with --nats-tls-key)")
      ->envname("DELTASTREAM_NATS_TLS_CERT")
      ->check(CLI::ExistingFile);
  app.add_option("--nats-tls-key", nats.tls_key_file, "The client certificate's key")
      ->envname("DELTASTREAM_NATS_TLS_KEY")
      ->check(CLI::ExistingFile);
  auto& stream = options.stream;
  app.add_option("--js-stream", stream.name, "The JetStream stream's name")
      ->envname("DELTASTREAM_JETSTREAM_STREAM")
      ->capture_default_str();
  app.add_option("--js-subjects", stream.subjects, "The JetStream stream's subjects, when it is created (default <prefix>.>)")
      ->envname("DELTASTREAM_JETSTREAM_SUBJECTS")
      ->delimiter(',');
  app.add_option("--js-replicas", stream.replicas, "Replicas of the stream, when it is created (1-5)")
      ->envname("DELTASTREAM_JETSTREAM_REPLICAS")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  app.add_option("--js-create", stream.create,
                 "Create the stream when it does not exist (false: it must exist, and take our subjects)")
      ->envname("DELTASTREAM_JETSTREAM_CREATE")
      ->capture_default_str();
  int window_seconds = 120;
  app.add_option("--js-duplicate-window", window_seconds,
                 "Seconds JetStream remembers message ids to drop a replay's duplicates, when it creates the stream")
      ->envname("DELTASTREAM_JETSTREAM_DUPLICATE_WINDOW")
      ->check(CLI::Range(1, 7 * 86'400))
      ->capture_default_str();
  app.add_option("--js-max-messages", stream.max_messages, "The stream's message limit when it is created (-1: none)")
      ->envname("DELTASTREAM_JETSTREAM_MAX_MESSAGES")
      ->capture_default_str();
  app.add_option("--js-max-bytes", stream.max_bytes, "The stream's byte limit when it is created (-1: none)")
      ->envname("DELTASTREAM_JETSTREAM_MAX_BYTES")
      ->capture_default_str();
  app.add_option("--max-in-flight", options.max_in_flight,
                 "Publishes a stream may have awaiting JetStream's acknowledgement")
      ->envname("DELTASTREAM_JETSTREAM_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  int ack_timeout_ms = 5'000;
  app.add_option("--ack-timeout-ms", ack_timeout_ms,
                 "A publish unacknowledged this long is a failure: the stream is attached again from its last ACK")
      ->envname("DELTASTREAM_JETSTREAM_ACK_TIMEOUT_MS")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  app.add_option("--consumer", options.consumer,
                 "The consumer name it holds the streams under (stable: a restart re-attaches at once)")
      ->envname("DELTASTREAM_CONSUMER")
      ->capture_default_str();
  int call_timeout_ms = 10'000;
  proto::add_reader_flags(app, options.reader, call_timeout_ms);
  add_curve_options(app, options.reader.curve, curve_role::client);
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, critical, off (stderr)")
      ->envname("DELTASTREAM_LOG_LEVEL")
      ->capture_default_str();
  parse_command_line(app, argc, argv);

  for (auto& name : options.follow) name = stream_of(name);
  if (!literal_subject(options.subject_prefix)) {
    throw config_error("--subject-prefix: \"" + options.subject_prefix +
                       "\" is not a NATS subject (dot-separated tokens, no spaces or wildcards)");
  }
  if (stream.subjects.empty()) stream.subjects.push_back(options.subject_prefix + ".>");
  if (stream.name.empty() || stream.name.find_first_of(" \t.*>/\\") != std::string::npos) {
    throw config_error("--js-stream: \"" + stream.name + "\" is not a JetStream stream name (no spaces, . * > / \\)");
  }
  if (nats.tls_cert_file.empty() != nats.tls_key_file.empty()) {
    throw config_error("--nats-tls-cert and --nats-tls-key: give both or neither");
  }
  if (!nats.credentials_file.empty() && !nats.user.empty()) {
    throw config_error("--nats-creds and --nats-user: give one of them");
  }
  if (!nats.password.empty() && nats.user.empty()) throw config_error("--nats-password needs --nats-user");
  if (!nats.tls_ca_file.empty() || !nats.tls_cert_file.empty()) nats.tls = true;
  stream.duplicate_window = std::chrono::seconds(window_seconds);
  options.ack_timeout = std::chrono::milliseconds(ack_timeout_ms);
  options.reader.call_timeout = std::chrono::milliseconds(call_timeout_ms);
  load_curve_settings(options.reader.curve, curve_role::client);
  return options;
}

}  // namespace deltastream::jetstream
