#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/lsn.hpp"
#include "common/pg_connection.hpp"
#include "common/stream_name.hpp"

namespace deltastream::reader {

// The reader's ordinary SQL connection and what it asks PostgreSQL's catalog about our
// slots (logical, wal2json, in this database, named delta_*), always with parameters.
// Opened on first use; after PostgreSQL went away, forget_if_broken() lets the next use
// open a new one. Errors throw pg_error.
class slot_catalog {
 public:
  explicit slot_catalog(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  struct slot {
    std::string name;
    std::string confirmed_flush_lsn;
    std::int64_t lag_bytes = 0;  // pg_current_wal_lsn() - confirmed_flush_lsn
    bool active = false;
  };
  std::vector<slot> list();
  // The slot's confirmed_flush_lsn; nullopt when there is no such slot of ours.
  std::optional<lsn> committed_position(const stream_name& name);
  // False when there is no such slot of ours. An active slot throws (SQLSTATE 55006).
  bool drop(const std::string& name);
  // SELECT 1: whether PostgreSQL answers.
  bool reachable();
  // Drops the connection if it is broken; true if it was.
  bool forget_if_broken();

 private:
  PGconn* connection();

  std::string conninfo_;
  pg_conn sql_;
};

}  // namespace deltastream::reader
