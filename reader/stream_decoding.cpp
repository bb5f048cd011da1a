#include "reader/stream_registry.hpp"

#include "reader/pgoutput_decoder.hpp"
#include "reader/row_event_decoder.hpp"
#include "reader/row_stream_spec.hpp"
#include "reader/wal2json_decoder.hpp"

// How a stream decodes its slot: by the slot's own output plugin, and for pgoutput with
// the column type names PostgreSQL's format_type gives (as wal2json writes them).
namespace deltastream::reader {

namespace {

// One query for every (oid, typmod) a Relation message brought that is not known yet:
// its name, and what to_json follows for it: the base type of a domain (of domains too),
// and of an array's element, with the element's delimiter.
#define BASE_OF(start)                                                                                   \
  "(WITH RECURSIVE d(oid) AS (SELECT " start " UNION ALL SELECT t.typbasetype FROM d "                    \
  "  JOIN pg_type t ON t.oid = d.oid WHERE t.typtype = 'd') "                                             \
  " SELECT d.oid FROM d JOIN pg_type t ON t.oid = d.oid WHERE t.typtype <> 'd')"
constexpr const char* type_names_sql =
    "SELECT a.oid::text, a.typmod::text, format_type(a.oid, a.typmod), COALESCE(base.oid, a.oid)::text, "
    "       COALESCE(element_base.oid, 0)::text, COALESCE(element.typdelim, ',') "
    "FROM unnest($1::oid[], $2::int4[]) AS a(oid, typmod) "
    "LEFT JOIN LATERAL " BASE_OF("a.oid") " AS base ON true "
    "LEFT JOIN pg_type base_type ON base_type.oid = base.oid "
    "LEFT JOIN pg_type element ON element.oid = base_type.typelem AND base_type.typcategory = 'A' "
    "  AND base_type.typlen = -1 "
    "LEFT JOIN LATERAL " BASE_OF("element.oid") " AS element_base ON true";
#undef BASE_OF

constexpr std::uint32_t first_normal_object_id = 16384;  // a type made after initdb

// to_json's shape for a type whose base type (a domain's) is `base`, and whose elements,
// when it is an array, have base type `element_base` (else 0) and `delimiter`.
json_shape shape_of(std::uint32_t base, std::uint32_t element_base, char delimiter) {
  if (element_base != 0) {
    json_shape array{json_kind::array};
    array.element = element_base < first_normal_object_id ? json_shape_of(element_base).kind : json_kind::string;
    array.delimiter = delimiter;
    return array;
  }
  // A domain over a built-in type writes as that type; enums, ranges, composites as strings.
  return base < first_normal_object_id ? json_shape_of(base) : json_shape{};
}

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
    return std::make_unique<row_event_decoder>(name.str(), types_, stream_settings_.message_part_bytes);
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
                           const auto number = [rows](int row, int column) {
                             return static_cast<std::uint32_t>(std::stoul(PQgetvalue(rows, row, column)));
                           };
                           for (int row = 0; row < PQntuples(rows); ++row) {
                             const type_key key{number(row, 0), std::stoi(PQgetvalue(rows, row, 1))};
                             types_.insert(key, PQgetisnull(rows, row, 2) ? "???" : PQgetvalue(rows, row, 2));
                             types_.insert_shape(key.oid, shape_of(number(row, 3), number(row, 4),
                                                                   PQgetvalue(rows, row, 5)[0]));
                           }
                           for (const auto& key : keys) {
                             if (!types_.find(key)) return answer("PostgreSQL did not name type " + std::to_string(key.oid));
                           }
                           answer("");
                         });
}

}  // namespace deltastream::reader
