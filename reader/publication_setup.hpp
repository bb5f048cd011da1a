#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/errors.hpp"
#include "reader/sql_queue.hpp"

namespace deltastream::reader {

// The publications pgoutput streams read, made safe for the applications that write.
// PostgreSQL refuses every UPDATE and DELETE on a table without a replica identity while
// a publication publishes them, so deltastream never publishes those for such a table:
//   <name>        FOR ALL TABLES, INSERTs only: every table, also those created later;
//   <name>_keyed  the tables with a replica identity (a primary key, REPLICA IDENTITY
//                 FULL or USING INDEX), UPDATEs and DELETEs; each prepare() adds the
//                 tables that have one by then.
// Both are created when <name> does not exist (FOR ALL TABLES needs a superuser). A
// <name> that exists is used as it is (and <name>_keyed only when deltastream made it),
// unless it publishes UPDATEs or DELETEs of a table without an identity: then prepare()
// refuses, naming the tables and the fixes.
class publication_setup {
 public:
  // `name` is checked by valid_publication_name().
  publication_setup(sql_queue& sql, std::string name) : sql_(sql), name_(std::move(name)) {}

  // One idempotent DO block on the reader's SQL connection; `done` gets PostgreSQL's refusal.
  void prepare(std::function<void(std::optional<pg_error>)> done);

  // [a-z_][a-z0-9_]{0,56}: a plain identifier with room for "_keyed".
  static bool valid_name(std::string_view name);

 private:
  sql_queue& sql_;
  const std::string name_;
};

}  // namespace deltastream::reader
