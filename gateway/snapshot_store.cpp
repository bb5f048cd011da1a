#include "gateway/snapshot_store.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "common/logging.hpp"

namespace deltastream::gateway {

namespace {

using clock = std::chrono::steady_clock;

// Relations a snapshot page may read: tables, partitioned tables, views, materialized
// views, foreign tables. to_regclass applies PostgreSQL's own name rules (schema
// qualification, quoting, case folding) to a *parameter*, so nothing is pasted.
constexpr const char* resolve_table_sql =
    "SELECT n.nspname, c.relname, c.oid::text FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')";
constexpr const char* resolve_column_sql =
    "SELECT 1 FROM pg_attribute WHERE attrelid = $1::oid AND attname = $2 "
    "AND attnum > 0 AND NOT attisdropped";

// An identifier as SQL reads it: "Quoted" keeps its case ("" is a quote), bare folds
// to lower case, so that pgdeltastream's clients keep their meaning.
std::string column_as_sql_reads_it(const std::string& text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    std::string inner;
    for (std::size_t i = 1; i + 1 < text.size(); ++i) {
      inner.push_back(text[i]);
      if (text[i] == '"' && text[i + 1] == '"') ++i;
    }
    return inner;
  }
  std::string lowered = text;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return lowered;
}

snapshot_store::page error_page(unsigned status, const std::string& message) {
  return {status, json_object().add("error", message).str()};
}

// Exported snapshot names look like 00000003-00000002-1; anything else is refused
// before it is quoted into SET TRANSACTION SNAPSHOT (which takes no parameters).
bool valid_snapshot_name(const std::string& name) {
  return !name.empty() && name.size() < 64 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || c == '-';
         });
}

// Opens the REPEATABLE READ READ ONLY transaction that reads `snapshot_name`.
void begin_in_snapshot(PGconn* conn, const std::string& snapshot_name) {
  if (!valid_snapshot_name(snapshot_name)) {
    throw pg_error("invalid snapshot name \"" + snapshot_name + "\"", "22023");
  }
  pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", {}, PGRES_COMMAND_OK);
  char* literal = PQescapeLiteral(conn, snapshot_name.data(), snapshot_name.size());
  if (!literal) throw pg_error("cannot quote the snapshot name: " + pg_error_message(conn), "");
  const std::string set_snapshot = std::string("SET TRANSACTION SNAPSHOT ") + literal;
  PQfreemem(literal);
  pg_check(conn, PQexec(conn, set_snapshot.c_str()), PGRES_COMMAND_OK, "SET TRANSACTION SNAPSHOT");
}

// What a request reads, resolved by PostgreSQL and quoted: the only SQL text built
// from a request.
struct resolved_read {
  std::string table_oid;
  std::string relation;  // "schema"."table"
  std::string order;     // " ORDER BY "column" ASC", or empty
};

// The catalogs hold what no snapshot client needs and some must never see (pg_authid's
// password hashes, with a superuser's connection). "pg_" schemas are PostgreSQL's own:
// pg_catalog, pg_toast*, pg_temp_N (other sessions' temporary tables).
bool is_system_schema(std::string_view schema) {
  return schema.starts_with("pg_") || schema == "information_schema";
}

std::variant<snapshot_store::page, resolved_read> resolve_read(PGconn* conn,
                                                               const snapshot_request& request) {
  auto table = pg_exec(conn, resolve_table_sql, {request.table});
  if (PQntuples(table.get()) == 0) {
    return error_page(404, "unknown table \"" + request.table + "\"");
  }
  const std::string schema = PQgetvalue(table.get(), 0, 0);
  if (is_system_schema(schema)) {
    return error_page(403, "\"" + request.table + "\" is a system catalog (" + schema +
                               "): snapshots serve application tables only");
  }
  resolved_read read;
  read.relation = pg_quote_identifier(conn, PQgetvalue(table.get(), 0, 0)) + "." +
                  pg_quote_identifier(conn, PQgetvalue(table.get(), 0, 1));
  read.table_oid = PQgetvalue(table.get(), 0, 2);
  if (request.order_by) {
    const auto column = column_as_sql_reads_it(request.order_by->column);
    if (PQntuples(pg_exec(conn, resolve_column_sql, {read.table_oid, column}).get()) == 0) {
      return error_page(400, "unknown column \"" + request.order_by->column + "\" in order_by");
    }
    read.order = " ORDER BY " + pg_quote_identifier(conn, column) +
                 (request.order_by->direction == sort_direction::ascending ? " ASC" : " DESC");
  }
  return read;
}

// The page a failed statement answers, when the connection still works.
snapshot_store::page failure_page(const pg_error& error, const std::string& stream,
                                  const snapshot_request& request) {
  if (error.sqlstate() == "42602" || error.sqlstate() == "0A000" || error.sqlstate() == "42601") {
    return error_page(400, "invalid table name \"" + request.table + "\"");
  }
  if (error.sqlstate() == "42501") return error_page(403, error.what());
  if (error.sqlstate().starts_with("22")) return error_page(400, error.what());  // a value that does not fit
  module_logger("snapshot")->warn("{}: {}", stream, error.what());
  return error_page(500, std::string("unable to get snapshot data: ") + error.what());
}

// The rows of a FETCH (one text column each) as the JSON array [r1,r2,...], the bytes
// that string_agg built in PostgreSQL before.
std::string json_array(const PGresult* rows) {
  const int count = PQntuples(rows);
  std::size_t size = 2 + static_cast<std::size_t>(count);
  for (int i = 0; i < count; ++i) size += static_cast<std::size_t>(PQgetlength(rows, i, 0));
  std::string array;
  array.reserve(size);
  array.push_back('[');
  for (int i = 0; i < count; ++i) {
    if (i > 0) array.push_back(',');
    array.append(PQgetvalue(rows, i, 0), static_cast<std::size_t>(PQgetlength(rows, i, 0)));
  }
  array.push_back(']');
  return array;
}

}  // namespace

snapshot_store::snapshot_store(std::string conninfo, std::chrono::seconds idle_timeout)
    : conninfo_(std::move(conninfo)), idle_timeout_(idle_timeout) {}

void snapshot_store::import(const std::string& stream, const std::string& snapshot_name) {
  auto held = std::make_shared<held_snapshot>();
  held->connection = pg_connect(conninfo_, connection_kind::sql);
  PGconn* conn = held->connection.get();
  begin_in_snapshot(conn, snapshot_name);
  // The reader's export lapses after --snapshot-hold; this one lives as long as we hold
  // the transaction, and full-table reads import it on connections of their own.
  held->exported_name =
      PQgetvalue(pg_exec(conn, "SELECT pg_export_snapshot()", {}).get(), 0, 0);
  held->last_used = clock::now();
  std::lock_guard lock(mutex_);
  held_[stream] = std::move(held);
}

void snapshot_store::forget(const std::string& stream) {
  std::lock_guard lock(mutex_);
  held_.erase(stream);
}

bool snapshot_store::holds(const std::string& stream) { return find(stream) != nullptr; }

void snapshot_store::expire_idle() {
  std::lock_guard lock(mutex_);
  const auto now = clock::now();
  std::erase_if(held_, [&](const auto& entry) {
    // A snapshot in use right now is not idle; try_lock tells without waiting.
    std::unique_lock busy(entry.second->mutex, std::try_to_lock);
    if (!busy || now - entry.second->last_used < idle_timeout_) return false;
    module_logger("snapshot")->info("{}: snapshot released after {} s idle", entry.first,
                                    idle_timeout_.count());
    return true;
  });
}

std::shared_ptr<snapshot_store::held_snapshot> snapshot_store::find(const std::string& stream) {
  std::lock_guard lock(mutex_);
  const auto found = held_.find(stream);
  return found == held_.end() ? nullptr : found->second;
}

std::variant<snapshot_store::page, std::shared_ptr<snapshot_store::held_snapshot>>
snapshot_store::locate(const std::string& stream, const snapshot_request& request) {
  auto held = find(stream);
  if (held) return held;
  if (!request.slot_name.empty() && !slot_exists(request.slot_name)) {
    return error_page(404, "unknown slot \"" + request.slot_name + "\"");
  }
  return error_page(503, "snapshot not available: call /init to initialize a new slot and "
                         "snapshot (a snapshot is released after " +
                             std::to_string(idle_timeout_.count()) + " s idle)");
}

template <class Read>
snapshot_store::page snapshot_store::in_savepoint(const std::string& stream, held_snapshot& held,
                                                  const snapshot_request& request, Read&& read) {
  PGconn* conn = held.connection.get();
  try {
    // A failed query must not poison the snapshot's transaction (pgdeltastream's
    // connection stayed aborted until the next /init): each page runs in a savepoint.
    pg_exec(conn, "SAVEPOINT page", {}, PGRES_COMMAND_OK);
    auto result = read();
    pg_exec(conn, "RELEASE SAVEPOINT page", {}, PGRES_COMMAND_OK);
    return result;
  } catch (const pg_error& error) {
    held.cursor.reset();
    held.ahead.reset();
    held.read_ahead_limit = 0;
    if (PQstatus(conn) != CONNECTION_OK) {
      forget(stream);
      return error_page(503, std::string("snapshot lost: the database connection failed: ") +
                                 error.what());
    }
    pg_exec(conn, "ROLLBACK TO SAVEPOINT page", {}, PGRES_COMMAND_OK);
    // The rollback closed a cursor declared in this savepoint; one declared before it
    // stays open, and after a failed FETCH unusable: none is left for the next page.
    pg_exec(conn, "CLOSE ALL", {}, PGRES_COMMAND_OK);
    return failure_page(error, stream, request);
  }
}

snapshot_store::page snapshot_store::read_page(const std::string& stream,
                                               const snapshot_request& request) {
  auto located = locate(stream, request);
  if (auto* refusal = std::get_if<page>(&located)) return std::move(*refusal);
  auto& held = *std::get<std::shared_ptr<held_snapshot>>(located);
  std::lock_guard lock(held.mutex);
  held.last_used = clock::now();
  return in_savepoint(stream, held, request, [&] { return read_rows(held, request); });
}

void snapshot_store::read_ahead(const std::string& stream) {
  const auto found = find(stream);
  if (!found) return;
  auto& held = *found;
  std::lock_guard lock(held.mutex);
  if (!held.cursor || held.ahead || held.read_ahead_limit == 0) return;
  const snapshot_request none;
  const auto start = held.cursor->position;
  const auto limit = held.read_ahead_limit;
  in_savepoint(stream, held, none, [&] {
    auto rows = pg_exec(held.connection.get(),
                        "FETCH FORWARD " + std::to_string(limit) + " FROM page_rows", {});
    const auto count = static_cast<std::uint64_t>(PQntuples(rows.get()));
    held.cursor->position += count;
    held.ahead = held_snapshot::page_ahead{start, limit, {200, json_array(rows.get())}};
    held.read_ahead_limit = count == limit ? limit : 0;
    return page{};
  });
}

bool snapshot_store::slot_exists(const std::string& name) {
  // Only on the error path: a short-lived connection is cheaper than keeping one.
  auto conn = pg_connect(conninfo_, connection_kind::sql);
  auto result = pg_exec(conn.get(), "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                        {name});
  return PQntuples(result.get()) > 0;
}

std::string snapshot_store::publication_oid(const std::string& name) {
  auto conn = pg_connect(conninfo_, connection_kind::sql);
  auto result = pg_exec(conn.get(), "SELECT oid::text FROM pg_publication WHERE pubname = $1", {name});
  return PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
}

snapshot_store::page snapshot_store::read_rows(held_snapshot& held, const snapshot_request& request) {
  PGconn* conn = held.connection.get();
  auto resolved = resolve_read(conn, request);
  if (auto* refusal = std::get_if<page>(&resolved)) return std::move(*refusal);
  const auto& read = std::get<resolved_read>(resolved);

  // OFFSET re-reads every row it skips, so paging a table with it is quadratic: a page
  // that starts where the previous one ended continues that page's cursor instead.
  auto& cursor = held.cursor;
  const bool same_read = cursor && cursor->table_oid == read.table_oid && cursor->order == read.order;
  if (same_read && held.ahead && held.ahead->start == request.offset &&
      held.ahead->limit == request.limit) {
    auto served = std::move(held.ahead->rows);
    held.ahead.reset();
    return served;  // read_ahead_limit stays: the next page is read ahead too
  }
  // A page read ahead that is not the one asked for: the cursor is past it, so unless
  // it is where this page starts, it is declared again below.
  held.ahead.reset();
  const bool continues = same_read && cursor->position == request.offset;
  if (!continues) {
    if (cursor) pg_exec(conn, "CLOSE page_rows", {}, PGRES_COMMAND_OK);
    cursor.reset();
    pg_exec(conn,
            "DECLARE page_rows NO SCROLL CURSOR FOR SELECT row_to_json(t)::text FROM "
            "(SELECT * FROM " + read.relation + read.order + " OFFSET $1) t",
            {std::to_string(request.offset)}, PGRES_COMMAND_OK);
    cursor = page_cursor{read.table_oid, read.order, request.offset};
  }
  // FETCH 0 would return the current row again, not none.
  if (request.limit == 0) {
    held.read_ahead_limit = 0;
    return {200, "[]"};
  }
  // FETCH takes no parameters; the count is the integer we parsed (≤ --max-page-rows).
  auto rows = pg_exec(conn, "FETCH FORWARD " + std::to_string(request.limit) + " FROM page_rows", {});
  const auto count = static_cast<std::uint64_t>(PQntuples(rows.get()));
  cursor->position += count;
  held.read_ahead_limit = count == request.limit ? request.limit : 0;
  return {200, json_array(rows.get())};
}

std::variant<snapshot_store::page, pg_conn> snapshot_store::open_stream(
    const std::string& stream, const snapshot_request& request) {
  return open_copy(stream, request, [&request](PGconn* conn) -> std::variant<page, std::string> {
    auto resolved = resolve_read(conn, request);
    if (auto* refusal = std::get_if<page>(&resolved)) return std::move(*refusal);
    const auto& read = std::get<resolved_read>(resolved);
    // Binary: json's binary form is its text, with none of text COPY's backslash escapes.
    return "COPY (SELECT row_to_json(t) FROM (SELECT * FROM " + read.relation + read.order +
           ") t) TO STDOUT (FORMAT binary)";
  });
}

std::variant<snapshot_store::page, pg_conn> snapshot_store::open_copy(const std::string& stream,
                                                                      const snapshot_request& request,
                                                                      const copy_builder& build) {
  auto located = locate(stream, request);
  if (auto* refusal = std::get_if<page>(&located)) return std::move(*refusal);
  // Holding `held` keeps its transaction, and so its exported snapshot, alive until
  // ours has imported it, even if the snapshot is forgotten meanwhile.
  auto held = std::get<std::shared_ptr<held_snapshot>>(std::move(located));
  {
    std::lock_guard lock(held->mutex);
    held->last_used = clock::now();
  }
  pg_conn connection;
  try {
    connection = pg_connect(conninfo_, connection_kind::sql);
    begin_in_snapshot(connection.get(), held->exported_name);
  } catch (const pg_error& error) {
    return error_page(503, std::string("snapshot not available: ") + error.what());
  }
  PGconn* conn = connection.get();
  try {
    auto copy = build(conn);
    if (auto* refusal = std::get_if<page>(&copy)) return std::move(*refusal);
    const auto& sql = std::get<std::string>(copy);
    pg_check(conn, PQexec(conn, sql.c_str()), PGRES_COPY_OUT, sql);
  } catch (const pg_error& error) {
    if (PQstatus(conn) != CONNECTION_OK) {
      return error_page(503, std::string("snapshot not available: ") + error.what());
    }
    return failure_page(error, stream, request);
  }
  return connection;
}

std::optional<std::chrono::system_clock::time_point> snapshot_store::held_until(const std::string& stream) {
  const auto held = find(stream);
  if (!held) return std::nullopt;
  std::unique_lock busy(held->mutex, std::try_to_lock);
  // One being read is in use now: its idle time starts when the read ends.
  const auto last_used = busy ? held->last_used : clock::now();
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(last_used + idle_timeout_ - clock::now());
}

}  // namespace deltastream::gateway
