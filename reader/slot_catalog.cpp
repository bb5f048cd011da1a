#include "reader/slot_catalog.hpp"

#include "reader/row_stream_setup.hpp"
#include "reader/row_stream_spec.hpp"

namespace deltastream::reader {

namespace {

// Our slots are logical ones of this database with a plugin we decode.
#define OUR_PLUGINS "plugin IN ('wal2json', 'pgoutput')"

constexpr const char* list_sql =
    "SELECT slot_name, confirmed_flush_lsn::text, "
    "       COALESCE((pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, 0), active, plugin, "
    "       CASE WHEN starts_with(slot_name, 'delta_v2_') THEN "
    "         (SELECT COALESCE(json_agg(to_jsonb(t) ORDER BY t.schemaname, t.tablename), '[]')::text "
    "          FROM pg_publication_tables t WHERE t.pubname = slot_name) END, "
    "       (SELECT obj_description(p.oid, 'pg_publication') FROM pg_publication p WHERE p.pubname = slot_name) "
    "FROM pg_replication_slots "
    "WHERE database = current_database() AND slot_type = 'logical' AND " OUR_PLUGINS
    "  AND starts_with(slot_name, 'delta_') ORDER BY slot_name";
// With the publications a pgoutput stream reads: $2, and $2_keyed when it exists.
constexpr const char* committed_sql =
    "SELECT confirmed_flush_lsn::text, pg_current_wal_lsn()::text, plugin, "
    "       ARRAY(SELECT pubname::text FROM pg_publication "
    "             WHERE CASE WHEN starts_with($1, 'delta_v2_') THEN pubname::text = $1 "
    "                        ELSE pubname::text IN ($2::text, $2::text || '_keyed') END "
    "             ORDER BY pubname) "
    "FROM pg_replication_slots "
    "WHERE slot_name = $1 AND database = current_database() AND " OUR_PLUGINS;
constexpr const char* drop_sql =
    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
    "WHERE slot_name = $1 AND database = current_database() AND " OUR_PLUGINS;

// Runs `sql` and hands its rows to `read`, which makes the value; or passes the error on.
template <class T, class Read>
void ask(sql_queue& sql, std::string what, const char* text, std::vector<std::string> params,
         slot_catalog::answer_to<T> done, Read read) {
  sql.run(std::move(what), text, std::move(params),
          [done = std::move(done), read = std::move(read)](sql_answer answer) {
            slot_catalog::outcome<T> result;
            if (answer.error) {
              result.error = std::move(answer.error);
            } else {
              result.value = read(answer.rows.get());
            }
            done(std::move(result));
          });
}

// A text[] of plain identifiers as PostgreSQL writes it: {a,b}.
std::vector<std::string> parse_text_array(std::string_view text) {
  std::vector<std::string> items;
  if (text.size() < 2) return items;
  text = text.substr(1, text.size() - 2);
  while (!text.empty()) {
    const auto comma = text.find(',');
    items.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

}  // namespace

void slot_catalog::list(answer_to<std::vector<slot>> done) {
  ask<std::vector<slot>>(sql_, "list slots", list_sql, {}, std::move(done), [](const PGresult* rows) {
    std::vector<slot> slots;
    for (int row = 0; row < PQntuples(rows); ++row) {
      slots.push_back({PQgetvalue(rows, row, 0), PQgetvalue(rows, row, 1),
                       std::stoll(PQgetvalue(rows, row, 2)),
                       std::string_view(PQgetvalue(rows, row, 3)) == "t", PQgetvalue(rows, row, 4),
                       PQgetvalue(rows, row, 5), PQgetvalue(rows, row, 6)});
    }
    return slots;
  });
}

void slot_catalog::committed_position(const stream_name& name, const std::string& publication,
                                      answer_to<std::optional<position>> done) {
  ask<std::optional<position>>(sql_, "slot position", committed_sql, {name.str(), publication}, std::move(done),
                               [](const PGresult* rows) -> std::optional<position> {
                                 if (PQntuples(rows) == 0) return std::nullopt;
                                 const auto read = [&](int column) {
                                   if (PQgetisnull(rows, 0, column)) return lsn{};
                                   return lsn::parse(PQgetvalue(rows, 0, column)).value_or(lsn{});
                                 };
                                 return position{read(0), read(1), PQgetvalue(rows, 0, 2),
                                                 parse_text_array(PQgetvalue(rows, 0, 3))};
                               });
}

void slot_catalog::drop(const std::string& name, answer_to<bool> done) {
  if (is_row_stream(name)) {
    return row_stream_setup(sql_).drop(name, [done = std::move(done)](std::optional<pg_error> error) {
      outcome<bool> result;
      result.value = !error;
      if (error && error->sqlstate() != "P0002") result.error = std::move(error);  // P0002: no such slot
      done(std::move(result));
    });
  }
  ask<bool>(sql_, "drop slot", drop_sql, {name}, std::move(done),
            [](const PGresult* rows) { return PQntuples(rows) > 0; });
}

void slot_catalog::reachable(std::function<void(bool)> done) {
  sql_.run("SELECT 1", "SELECT 1", {}, [done = std::move(done)](sql_answer answer) { done(!answer.error); });
}

}  // namespace deltastream::reader
