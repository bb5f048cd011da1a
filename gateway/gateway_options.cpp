#include "gateway/gateway_options.hpp"

#include <cstdlib>
#include <regex>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/curve_options.hpp"
#include "common/command_line.hpp"
#include "common/errors.hpp"
#include "common/pg_settings.hpp"

namespace deltastream::gateway {

namespace {

// Go's flag package takes -name as well as --name; CLI11 wants two dashes for long
// names, so pgdeltastream's seven flags get their second dash here.
std::vector<std::string> with_long_dashes(int argc, char** argv) {
  static const std::regex go_flag("^-(db|user|password|pgHost|pgPort|serverHost|serverPort)(=.*)?$");
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (std::regex_match(arg, go_flag)) arg.insert(0, "-");
    args.push_back(std::move(arg));
  }
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  return args;
}

}  // namespace

gateway_options parse_gateway_options(int argc, char** argv) {
  gateway_options options;
  pg_parts parts;
  std::string pg;
  int snapshot_idle_seconds = 600;
  int call_timeout_ms = 10'000;

  CLI::App app{
      "deltastream-gateway: pgdeltastream's HTTP and WebSocket API over deltastream-reader."};
  app.name("deltastream-gateway");  // parse() of a vector does not take it from argv[0]
  app.set_version_flag("--version", "deltastream-gateway 0.1.0");
  app.add_option("--serverHost,--server-host", options.server.host,
                 "Host name or address to listen on: every address it resolves to (localhost: 127.0.0.1 "
                 "and ::1; 0.0.0.0: every IPv4 address; ::: every address of both families)")
      ->envname("SERVERHOST")
      ->capture_default_str();
  app.add_option("--serverPort,--server-port", options.server.port, "Port to listen on")
      ->envname("SERVERPORT")
      ->capture_default_str();
  app.add_option("--pg", pg,
                 "PostgreSQL connection string (key=value or URI); overrides the five below")
      ->envname("DELTASTREAM_PG");
  app.add_option("--db", parts.dbname, "Database name")->envname("DBNAME");
  app.add_option("--user", parts.user, "PostgreSQL user")->envname("PGUSER");
  app.add_option("--password", parts.password, "PostgreSQL password")->envname("PGPASS");
  app.add_option("--pgHost,--pg-host", parts.host, "PostgreSQL host")->envname("PGHOST");
  app.add_option("--pgPort,--pg-port", parts.port, "PostgreSQL port")->envname("PGPORT");
  app.add_option("--control", options.link.control,
                 "The reader's ZeroMQ control endpoint")
      ->envname("DELTASTREAM_CONTROL")
      ->default_val("tcp://127.0.0.1:5590");
  app.add_option("--publish", options.link.publish, "The reader's ZeroMQ data endpoint")
      ->envname("DELTASTREAM_PUBLISH")
      ->default_val("tcp://127.0.0.1:5591");
  app.add_option("--max-queue-bytes", options.server.max_queue_bytes,
                 "Bytes waiting to be sent to one WebSocket client before it is closed as too slow")
      ->envname("DELTASTREAM_MAX_QUEUE_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 40))
      ->capture_default_str();
  app.add_option("--max-body-bytes", options.server.max_body_bytes, "Largest HTTP request body (413 above)")
      ->envname("DELTASTREAM_MAX_BODY_BYTES")
      ->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max-header-bytes", options.server.max_header_bytes, "Largest HTTP request header block (431 above)")
      ->envname("DELTASTREAM_MAX_HEADER_BYTES")
      ->check(CLI::Range(std::size_t{512}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-frame-bytes", options.server.max_frame_bytes,
                 "Largest WebSocket message a client may send (closed with 1009 above)")
      ->envname("DELTASTREAM_MAX_FRAME_BYTES")
      ->check(CLI::Range(std::size_t{64}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max-connections-per-client", options.server.max_connections_per_client,
                 "Connections one client address may have open at once (429 and closed above)")
      ->envname("DELTASTREAM_MAX_CONNECTIONS_PER_CLIENT")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--max-page-rows", options.server.max_page_rows, "Largest snapshot page (\"limit\")")
      ->envname("DELTASTREAM_MAX_PAGE_ROWS")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--snapshot-idle-timeout", snapshot_idle_seconds,
                 "Seconds a snapshot may sit unused before it is released")
      ->envname("DELTASTREAM_SNAPSHOT_IDLE_TIMEOUT")
      ->check(CLI::Range(1, 7 * 86'400))
      ->capture_default_str();
  app.add_option("--database-threads", options.server.database_threads,
                 "Threads for snapshot queries (one query per thread at a time)")
      ->envname("DELTASTREAM_DATABASE_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--reader-timeout-ms", call_timeout_ms,
                 "How long to wait for the reader to answer a control request")
      ->envname("DELTASTREAM_READER_TIMEOUT_MS")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "Bearer tokens, one \"<admin|read> <token>\" per line; without it the gateway "
                 "serves without authentication, on loopback only")
      ->envname("DELTASTREAM_TOKEN_FILE");
  app.add_flag("--allow-unauthenticated", options.server.access.allow_unauthenticated,
               "Serve on other interfaces without a token file (behind your own authentication)")
      ->envname("DELTASTREAM_ALLOW_UNAUTHENTICATED");
  app.add_option("--allowed-origins", options.server.access.allowed_origins,
                 "Origins whose web pages may open WebSockets (comma-separated, * for any), "
                 "besides the gateway's own (its console)")
      ->envname("DELTASTREAM_ALLOWED_ORIGINS")
      ->delimiter(',');
  app.add_option("--tls-cert", options.server.tls_cert_file,
                 "PEM certificate chain: with --tls-key, every connection is TLS (https, wss)")
      ->envname("DELTASTREAM_TLS_CERT");
  app.add_option("--tls-key", options.server.tls_key_file, "PEM private key of --tls-cert")
      ->envname("DELTASTREAM_TLS_KEY");
  add_curve_options(app, options.link.curve, curve_role::client);
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, critical or off")
      ->envname("DELTASTREAM_LOG_LEVEL")
      ->capture_default_str();

  parse_command_line(app, with_long_dashes(argc, argv));
  if (options.server.tls_cert_file.empty() != options.server.tls_key_file.empty()) {
    throw config_error("--tls-cert and --tls-key: give both, or neither for plain HTTP");
  }
  if (!token_file.empty()) options.server.access.tokens = access_tokens::load(token_file);
  load_curve_settings(options.link.curve, curve_role::client);
  options.conninfo = resolve_conninfo(pg, parts);
  options.server.snapshot_idle_timeout = std::chrono::seconds(snapshot_idle_seconds);
  options.link.call_timeout = std::chrono::milliseconds(call_timeout_ms);
  return options;
}

}  // namespace deltastream::gateway
