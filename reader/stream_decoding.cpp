#include "reader/stream_registry.hpp"

#include "reader/pgoutput_decoder.hpp"
#include "reader/row_event_decoder.hpp"
#include "reader/row_stream_spec.hpp"
#include "reader/wal2json_decoder.hpp"

// How a stream decodes its slot: by the slot's own output plugin, and for pgoutput with
// the column type names PostgreSQL's format_type gives (as wal2json writes them).
namespace deltastream::reader {

namespace {

// One query for every (oid, typmod) a Relation message brought that is not known yet.
constexpr const char* type_names_sql =
    "SELECT t.oid::text, t.typmod::text, format_type(t.oid, t.typmod) "
    "FROM unnest($1::oid[], $2::int4[]) AS t(oid, typmod)";

std::string array_literal(const std::vector<type_key>& keys, bool typmods) {
  std::string out = "{";
  for (const auto& key : keys) {
    if (out.size() > 1) out += ',';
    out += typmods ? std::to_string(key.typmod) : std::to_string(key.oid);
  }
  return out + "}";
}

}  // namespace

std::unique_ptr<change_decoder> stream_registry::make_decoder(const stream_name& name,
                                                             const slot_catalog::position& slot) {
  // A restarted reader needs nothing but the slot to decode it the same way.
  if (is_row_stream(name.str())) {
    return std::make_unique<row_event_decoder>(name.str(), stream_settings_.message_part_bytes);
  }
  if (slot.plugin == "pgoutput") {
    return std::make_unique<pgoutput_decoder>(slot.publications, types_, stream_settings_.message_part_bytes);
  }
  return std::make_unique<wal2json_decoder>(stream_settings_.message_part_bytes);
}

void stream_registry::resolve_types(std::vector<type_key> keys, stream_settings::type_answer answer) {
  // Asked on the reader's SQL connection, whose session has the same settings as the
  // walsender's (the same conninfo, role and database): a type outside its search_path
  // is schema-qualified by both alike.
  std::vector<std::string> params{array_literal(keys, false), array_literal(keys, true)};
  catalog_.queries().run("column type names", type_names_sql, std::move(params),
                         [this, keys, answer = std::move(answer)](sql_answer result) {
                           if (result.error) return answer(result.error->what());
                           const auto* rows = result.rows.get();
                           for (int row = 0; row < PQntuples(rows); ++row) {
                             const type_key key{static_cast<std::uint32_t>(std::stoul(PQgetvalue(rows, row, 0))),
                                                std::stoi(PQgetvalue(rows, row, 1))};
                             types_.insert(key, PQgetisnull(rows, row, 2) ? "???" : PQgetvalue(rows, row, 2));
                           }
                           for (const auto& key : keys) {
                             if (!types_.find(key)) return answer("PostgreSQL did not name type " + std::to_string(key.oid));
                           }
                           answer("");
                         });
}

}  // namespace deltastream::reader
