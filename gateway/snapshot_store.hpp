#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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
  bool slot_exists(const std::string& name);  // asks PostgreSQL, on a connection of its own
  // The publication's OID now (empty: none), on a connection of its own: a v2 stream
  // deleted and created again has another, and its held snapshot is not the new one's.
  std::string publication_oid(const std::string& name);
  void expire_idle();

  // One page of rows as a JSON array of row_to_json objects: the status and the body
  // ({"error":...} unless 200).
  struct page {
    unsigned status = 200;
    std::string body;
  };
  page read_page(const std::string& stream, const snapshot_request& request);

  // Reads the page that would continue the last one read_page served from `stream`
  // (same size, from where it ended), so that the client's next request finds it ready
  // and PostgreSQL works while the last page is on its way. Does nothing when the last
  // page ended the table or was not paging. Call it on a database thread.
  void read_ahead(const std::string& stream);

  // The whole table (request's offset and limit unused) on a connection of its own that
  // imported the held snapshot, so that a long read never holds up the snapshot's pages.
  // The connection comes back in COPY OUT state, a binary COPY of one json column (see
  // copy_json_decoder); or the error page, as read_page's.
  std::variant<page, pg_conn> open_stream(const std::string& stream, const snapshot_request& request);

  // A COPY (... TO STDOUT (FORMAT binary)) of one json column, or the page that refuses:
  // built by the caller's `copy` on the connection that imported the snapshot.
  using copy_builder = std::function<std::variant<page, std::string>(PGconn*)>;
  // As open_stream, with the COPY `build` makes (the v2 snapshot, v2_snapshot_query.hpp).
  std::variant<page, pg_conn> open_copy(const std::string& stream, const snapshot_request& request,
                                        const copy_builder& build);
  // Until when the stream's snapshot is held if nothing reads it, or nullopt.
  std::optional<std::chrono::system_clock::time_point> held_until(const std::string& stream);

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
    // A page read ahead of its request: rows from `start` on, `limit` of them asked
    // for. The cursor stands after it.
    struct page_ahead {
      std::uint64_t start = 0;
      std::uint64_t limit = 0;
      page rows;
    };
    std::optional<page_ahead> ahead;
    std::uint64_t read_ahead_limit = 0;  // the last page's size when it was full, else 0
  };
  std::variant<page, std::shared_ptr<held_snapshot>> locate(const std::string& stream,
                                                            const snapshot_request& request);
  std::shared_ptr<held_snapshot> find(const std::string& stream);
  page read_rows(held_snapshot& held, const snapshot_request& request);
  // Runs `read` in a savepoint; on an error, rolls back to it and forgets the cursor.
  template <class Read>
  page in_savepoint(const std::string& stream, held_snapshot& held, const snapshot_request& request,
                    Read&& read);

  const std::string conninfo_;
  const std::chrono::seconds idle_timeout_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<held_snapshot>> held_;
};

}  // namespace deltastream::gateway
