#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

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

  // One page of rows as a JSON array, built by PostgreSQL (row_to_json): the status
  // and the body ({"error":...} unless 200).
  struct page {
    unsigned status = 200;
    std::string body;
  };
  page read_page(const std::string& stream, const snapshot_request& request);

 private:
  struct held_snapshot {
    std::mutex mutex;  // one query at a time on the connection
    pg_conn connection;
    std::chrono::steady_clock::time_point last_used;
  };
  std::shared_ptr<held_snapshot> find(const std::string& stream);
  bool slot_exists(const std::string& name);
  page run_query(PGconn* conn, const snapshot_request& request);

  const std::string conninfo_;
  const std::chrono::seconds idle_timeout_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<held_snapshot>> held_;
};

}  // namespace deltastream::gateway
