#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/errors.hpp"
#include "common/lsn.hpp"
#include "reader/sql_queue.hpp"

namespace deltastream::reader {

// The publications of row streams (reader/row_stream_spec.hpp), made by DO blocks on the
// reader's SQL connection. A DO block takes no parameters, so each reads its input from a
// setting of the session, set by a query with parameters just before it on the same
// connection: names are quoted by format('%I') and values by format('%L') in PostgreSQL.
class row_stream_setup {
 public:
  using done_function = std::function<void(std::optional<pg_error>)>;

  explicit row_stream_setup(sql_queue& sql) : sql_(sql) {}

  // Creates the publication of `definition` (row_stream_definition), or refuses with
  // PostgreSQL's SQLSTATE: 42P01 an unknown table, 42703 an unknown column, 42710 a stream
  // of that name exists, 55000 a table whose UPDATEs and DELETEs PostgreSQL would refuse
  // while the publication published them (no replica identity, a row filter on other
  // columns, a column list without them), 22023 a table named twice; a row filter
  // PostgreSQL rejects comes with its own. A leftover publication of ours whose slot is
  // gone (a drop cut short) is replaced.
  void create(const std::string& definition, done_function done);
  // Notes where the stream began in its publication's comment (GET shows it).
  void record_start(const std::string& publication, lsn start);
  // Drops the publication when no slot of its name exists (a create that failed later).
  void remove_orphan(const std::string& publication);
  // Drops the publication, then the slot, in one transaction (a failed slot drop keeps
  // the publication); P0002 when there is no slot.
  void drop(const std::string& stream, done_function done);

 private:
  void run(std::string what, std::string setting, const char* block, done_function done);
  sql_queue& sql_;
};

}  // namespace deltastream::reader
