#include "gateway/v2_snapshot_query.hpp"

#include <charconv>

#include <simdjson.h>

#include "common/errors.hpp"
#include "common/json_writer.hpp"
#include "common/pg_connection.hpp"

namespace deltastream::gateway {

namespace {

// The stream's own rows of pg_publication_tables: the columns it publishes, its filter.
constexpr const char* table_sql =
    "SELECT n.nspname, c.relname, c.oid::text, array_to_json(t.attnames)::text, t.rowfilter "
    "FROM pg_publication_tables t JOIN pg_namespace n ON n.nspname = t.schemaname "
    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tablename "
    "WHERE t.pubname = $1 AND c.oid = to_regclass($2)";
constexpr const char* key_sql =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
    "WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)";
constexpr std::uint64_t max_limit = 1'000'000'000;

snapshot_store::page refuse(unsigned status, const std::string& message) {
  return {status, json_object().add("error", message).str()};
}

std::string quoted(PGconn* conn, std::string_view name) { return pg_quote_identifier(conn, std::string(name)); }

// The values of `after`, which must be an array of as many scalars as the key has columns.
std::optional<std::string> after_problem(const std::string& after, std::size_t keys) {
  simdjson::dom::parser parser;
  simdjson::dom::array values;
  if (parser.parse(after).get_array().get(values)) return "\"after\" must be a JSON array of the key's values";
  if (values.size() != keys) {
    return "\"after\" must hold " + std::to_string(keys) + " value(s), one per primary key column";
  }
  for (auto value : values) {
    if (value.is_array() || value.is_object() || value.is_null()) return "\"after\" holds a key column's values: no nulls, arrays or objects";
  }
  return std::nullopt;
}

}  // namespace

std::variant<v2_snapshot_request, std::string> parse_v2_snapshot_request(const request_target& target,
                                                                         std::string publication) {
  v2_snapshot_request request;
  request.publication = std::move(publication);
  request.table = target.param("table");
  if (request.table.empty()) return std::string("missing ?table= (a table of the stream, like public.orders)");
  request.after = target.param("after");
  if (const auto text = target.param("limit"); !text.empty()) {
    std::uint64_t limit = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (error != std::errc() || end != text.data() + text.size() || limit > max_limit) {
      return "limit must be a whole number up to " + std::to_string(max_limit);
    }
    request.limit = limit;
  }
  return request;
}

std::variant<snapshot_store::page, std::string> build_v2_snapshot_copy(PGconn* conn,
                                                                      const v2_snapshot_request& request) {
  auto held = pg_exec(conn, "SELECT oid::text FROM pg_publication WHERE pubname = $1", {request.publication});
  if (PQntuples(held.get()) == 0 || request.publication_oid != PQgetvalue(held.get(), 0, 0)) {
    return refuse(410, "the snapshot held here is of a stream of this name that was deleted since: "
                       "the stream's own snapshot is held by the gateway that created it");
  }
  auto table = pg_exec(conn, table_sql, {request.publication, request.table});
  if (PQntuples(table.get()) == 0) {
    return refuse(404, "table \"" + request.table + "\" is not in this stream");
  }
  const auto relation = quoted(conn, PQgetvalue(table.get(), 0, 0)) + "." + quoted(conn, PQgetvalue(table.get(), 0, 1));
  std::string columns;
  simdjson::dom::parser parser;
  simdjson::dom::array names;
  if (parser.parse(std::string(PQgetvalue(table.get(), 0, 3))).get_array().get(names)) {
    throw pg_error("unreadable column list of " + relation, "");
  }
  for (auto name : names) {
    columns += (columns.empty() ? "" : ", ") + quoted(conn, std::string_view(name.get_string().value()));
  }
  std::string where;
  if (!PQgetisnull(table.get(), 0, 4)) where = std::string(" WHERE (") + PQgetvalue(table.get(), 0, 4) + ")";

  auto keys = pg_exec(conn, key_sql, {PQgetvalue(table.get(), 0, 2)});
  const auto key_count = static_cast<std::size_t>(PQntuples(keys.get()));
  std::string order, key_tuple, after_tuple;
  for (int i = 0; i < PQntuples(keys.get()); ++i) {
    const auto column = quoted(conn, PQgetvalue(keys.get(), i, 0));
    order += (i ? ", " : "") + column;
    key_tuple += (i ? ", " : "") + column;
    // format_type's name of the key column's type (PostgreSQL's text, quoted as needed).
    after_tuple += std::string(i ? ", " : "") + "(a->>" + std::to_string(i) + ")::" + PQgetvalue(keys.get(), i, 1);
  }
  if (!request.after.empty()) {
    if (key_count == 0) return refuse(400, "table \"" + request.table + "\" has no primary key: read it whole, without after");
    if (auto problem = after_problem(request.after, key_count)) return refuse(400, *problem);
    // COPY takes no parameters: the values wait in a setting of this transaction.
    pg_exec(conn, "SELECT set_config('deltastream.after', $1, true)", {request.after});
    // Cast here, before the COPY: an error inside one would come after its 200.
    const std::string after_key = "(SELECT " + after_tuple +
                                  " FROM (SELECT current_setting('deltastream.after')::jsonb AS a) AS after_key)";
    pg_exec(conn, "SELECT " + after_key, {});
    where += std::string(where.empty() ? " WHERE " : " AND ") + "(" + key_tuple + ") > " + after_key;
  }
  std::string copy = "COPY (SELECT to_json(r) FROM (SELECT " + columns + " FROM " + relation + where;
  if (!order.empty()) copy += " ORDER BY " + order;
  if (request.limit) copy += " LIMIT " + std::to_string(*request.limit);  // the integer we parsed
  return copy + ") AS r) TO STDOUT (FORMAT binary)";
}

}  // namespace deltastream::gateway
