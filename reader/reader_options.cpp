#include "reader/reader_options.hpp"

#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "common/curve_options.hpp"
#include "common/command_line.hpp"
#include "common/errors.hpp"
#include "common/pg_settings.hpp"
#include "reader/publication_setup.hpp"

namespace deltastream::reader {

reader_options parse_reader_options(int argc, char** argv) {
  reader_options options;
  std::string pg;
  int status_seconds = 10;
  int snapshot_hold_seconds = 300;

  CLI::App app{
      "deltastream-reader: streams PostgreSQL logical replication slots (wal2json or pgoutput) to "
      "ZeroMQ subscribers."};
  app.set_version_flag("--version", "deltastream-reader 0.1.0");
  app.add_option("--pg", pg,
                 "PostgreSQL connection string (key=value or URI). Default: built from "
                 "PGHOST PGPORT PGUSER PGPASS DBNAME, then libpq's defaults")
      ->envname("DELTASTREAM_PG");
  app.add_option("--plugin", options.registry.plugin,
                 "Output plugin of the slots it creates (a create request may name another): "
                 "wal2json (the extension must be installed) or pgoutput (built into PostgreSQL 10+, "
                 "decoded by the reader into the same wal2json messages). A slot's own plugin "
                 "decides how it is read")
      ->envname("DELTASTREAM_PLUGIN")
      ->check(CLI::IsMember({"wal2json", "pgoutput"}))
      ->capture_default_str();
  app.add_option("--publication", options.registry.publication,
                 "The publication pgoutput slots read; created with <name>_keyed when missing "
                 "(see the README: tables without a replica identity stream INSERTs only)")
      ->envname("DELTASTREAM_PUBLICATION")
      ->check([](const std::string& name) {
        return publication_setup::valid_name(name) ? std::string()
                                                   : std::string("expected [a-z_][a-z0-9_]{0,56}");
      })
      ->capture_default_str();
  app.add_option("--control", options.control_endpoint,
                 "ZeroMQ ROUTER endpoint for control requests")
      ->envname("DELTASTREAM_CONTROL")
      ->capture_default_str();
  app.add_option("--publish", options.publish_endpoint, "ZeroMQ PUB endpoint for changes")
      ->envname("DELTASTREAM_PUBLISH")
      ->capture_default_str();
  app.add_option("--high-water-mark", options.high_water_mark,
                 "Messages queued per subscriber before the reader stops reading")
      ->envname("DELTASTREAM_HIGH_WATER_MARK")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--max-queued-bytes", options.max_queued_bytes,
                 "Bytes of changes queued for the subscribers (all of them, in ZeroMQ) before "
                 "the reader stops reading PostgreSQL; the high-water mark bounds their number")
      ->envname("DELTASTREAM_MAX_QUEUED_BYTES")
      ->check(CLI::Range(std::size_t{1} << 16, std::size_t{1} << 40))
      ->capture_default_str();
  app.add_option("--status-interval", status_seconds,
                 "Seconds between standby status updates to PostgreSQL (also sent at once "
                 "after every ACK)")
      ->envname("DELTASTREAM_STATUS_INTERVAL")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--message-part-bytes", options.registry.streams.message_part_bytes,
                 "A transaction larger than this is published in pieces of about this size, "
                 "so that it is never whole in memory (WebSocket clients still get one message)")
      ->envname("DELTASTREAM_MESSAGE_PART_BYTES")
      ->check(CLI::Range(std::size_t{1} << 10, std::size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--snapshot-hold", snapshot_hold_seconds,
                 "Seconds a created stream's exported snapshot stays importable unless "
                 "released earlier")
      ->envname("DELTASTREAM_SNAPSHOT_HOLD")
      ->check(CLI::Range(1, 86'400))
      ->capture_default_str();
  app.add_option("--ack-journal", options.registry.ack_journal,
                 "A file where the reader keeps every stream's acknowledged position, so that "
                 "acknowledged changes are not delivered again after PostgreSQL and the reader "
                 "crashed together (PostgreSQL writes slot positions to disk only at checkpoints); "
                 "its directory must be writable. Empty: no file")
      ->envname("DELTASTREAM_ACK_JOURNAL");
  app.add_option("--lag-warning-bytes", options.registry.watch.lag_warning_bytes,
                 "Warn when PostgreSQL keeps this much WAL for a slot (its consumer is behind)")
      ->envname("DELTASTREAM_LAG_WARNING_BYTES")
      ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 50))
      ->capture_default_str();
  int drop_after_seconds = 0;
  app.add_option("--drop-unattached-after", drop_after_seconds,
                 "Drop delta_ slots that nobody has streamed for this many seconds (0: never)")
      ->envname("DELTASTREAM_DROP_UNATTACHED_AFTER")
      ->check(CLI::Range(0, 365 * 86'400))
      ->capture_default_str();
  app.add_option("--log-level", options.log_level,
                 "trace, debug, info, warn, error, critical or off")
      ->envname("DELTASTREAM_LOG_LEVEL")
      ->capture_default_str();
  add_curve_options(app, options.curve, curve_role::server);

  parse_command_line(app, argc, argv);
  load_curve_settings(options.curve, curve_role::server);
  options.registry.conninfo = resolve_conninfo(pg, pg_parts_from_environment());
  options.registry.streams.status_interval = std::chrono::seconds(status_seconds);
  options.registry.snapshot_hold = std::chrono::seconds(snapshot_hold_seconds);
  options.registry.watch.drop_unattached_after = std::chrono::seconds(drop_after_seconds);
  std::random_device random;
  options.registry.instance = fmt::format("{:08x}{:08x}", random(), random());
  return options;
}

}  // namespace deltastream::reader
