#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "common/pg_connection.hpp"
#include "gateway/snapshot_request.hpp"

namespace deltastream::gateway {

// The snapshots of created streams, each held open in a REPEATABLE READ READ ONLY
// transaction that imported it (SET TRANSACTION SNAPSHOT), so that it stays readable
// while the stream is consumed, until it has been idle for `idle_timeout`.
// Blocking libpq calls: used from the gateway's database threads, never the I/O thread.
class snapshot_store {
 public:
  snapshot_store(std::string conninfo, std::chrono::seconds idle_timeout);

  // Throws pg_error when the snapshot cannot be imported.
  void import(const std::string& stream, const std::string& snapshot_name);
  void forget(const std::string& stream);
  bool holds(const std::string& stream);
  void expire_idle();

  // One page of rows as a JSON array of row_to_json objects: the status and the body
  // ({"error":...} unless 200).
  struct page {
    unsigned status = 200;
    std::string body;
  };
  page read_page(const std::string& stream, const snapshot_request& request);

  // The whole table (request's offset and limit unused) on a connection of its own that
  // imported the held snapshot, so that a long read never holds up the snapshot's pages.
  // The connection comes back in COPY OUT state, a binary COPY of one json column (see
  // copy_json_decoder); or the error page, as read_page's.
  std::variant<page, pg_conn> open_stream(const std::string& stream, const snapshot_request& request);

 private:
  // The server-side cursor of the last page read, left where that page ended, so that
  // the next page continues it instead of skipping `offset` rows again.
  struct page_cursor {
    std::string table_oid;
    std::string order;  // the ORDER BY clause as sent
    std::uint64_t position = 0;
  };
  struct held_snapshot {
    std::mutex mutex;  // one query at a time on the connection
    pg_conn connection;
    std::string exported_name;  // the transaction's snapshot re-exported, for open_stream
    std::chrono::steady_clock::time_point last_used;
    std::optional<page_cursor> cursor;
  };
  std::variant<page, std::shared_ptr<held_snapshot>> locate(const std::string& stream,
                                                            const snapshot_request& request);
  std::shared_ptr<held_snapshot> find(const std::string& stream);
  bool slot_exists(const std::string& name);
  page read_rows(held_snapshot& held, const snapshot_request& request);

  const std::string conninfo_;
  const std::chrono::seconds idle_timeout_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<held_snapshot>> held_;
};

}  // namespace deltastream::gateway
