#include "reader/slot_catalog.hpp"

#include "common/errors.hpp"

namespace deltastream::reader {

namespace {

constexpr const char* list_sql =
    "SELECT slot_name, confirmed_flush_lsn::text, "
    "       COALESCE((pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, 0), active "
    "FROM pg_replication_slots "
    "WHERE database = current_database() AND slot_type = 'logical' AND plugin = 'wal2json' "
    "  AND starts_with(slot_name, 'delta_') ORDER BY slot_name";
constexpr const char* committed_sql =
    "SELECT confirmed_flush_lsn::text FROM pg_replication_slots "
    "WHERE slot_name = $1 AND database = current_database() AND plugin = 'wal2json'";
constexpr const char* drop_sql =
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
    "WHERE slot_name = $1 AND database = current_database() AND plugin = 'wal2json'";

}  // namespace

std::vector<slot_catalog::slot> slot_catalog::list() {
  auto result = pg_exec(connection(), list_sql, {});
  std::vector<slot> slots;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    slots.push_back({PQgetvalue(result.get(), row, 0), PQgetvalue(result.get(), row, 1),
                     std::stoll(PQgetvalue(result.get(), row, 2)),
                     std::string_view(PQgetvalue(result.get(), row, 3)) == "t"});
  }
  return slots;
}

std::optional<lsn> slot_catalog::committed_position(const stream_name& name) {
  auto result = pg_exec(connection(), committed_sql, {name.str()});
  if (PQntuples(result.get()) == 0) return std::nullopt;
  if (PQgetisnull(result.get(), 0, 0)) return lsn{};
  return lsn::parse(PQgetvalue(result.get(), 0, 0));
}

bool slot_catalog::drop(const std::string& name) {
  return PQntuples(pg_exec(connection(), drop_sql, {name}).get()) > 0;
}

bool slot_catalog::reachable() {
  try {
    pg_exec(connection(), "SELECT 1", {});
    return true;
  } catch (const pg_error&) {
    forget_if_broken();
    return false;
  }
}

PGconn* slot_catalog::connection() {
  if (!sql_) sql_ = pg_connect(conninfo_, connection_kind::sql);
  return sql_.get();
}

bool slot_catalog::forget_if_broken() {
  if (!sql_ || PQstatus(sql_.get()) == CONNECTION_OK) return false;
  sql_.reset();
  return true;
}

}  // namespace deltastream::reader
