#include "gateway/v2_stream_view.hpp"

#include <ctime>

#include <simdjson.h>

#include "common/json_writer.hpp"
#include "gateway/v2_path.hpp"

namespace deltastream::gateway {

namespace {

std::string text_of(simdjson::dom::object object, std::string_view key) {
  std::string_view text;
  return object[key].get_string().get(text) ? std::string() : std::string(text);
}

std::string utc_text(std::chrono::system_clock::time_point when) {
  const auto seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  return std::string(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc));
}

// pg_publication_tables rows ({"schemaname", "tablename", "attnames", "rowfilter"}) as
// the API shows a stream's tables.
std::string tables_of(simdjson::dom::object slot) {
  simdjson::dom::array rows;
  std::string out = "[";
  if (slot["tables"].get_array().get(rows)) return out + "]";
  for (auto row : rows) {
    simdjson::dom::object table;
    if (row.get_object().get(table)) continue;
    json_object item;
    item.add("table", text_of(table, "schemaname") + "." + text_of(table, "tablename"));
    simdjson::dom::element columns;
    item.raw("columns", table["attnames"].get(columns) ? "[]" : simdjson::minify(columns));
    const auto filter = text_of(table, "rowfilter");
    if (filter.empty()) {
      item.raw("where", "null");
    } else {
      item.add("where", filter);
    }
    if (out.size() > 1) out += ',';
    out += item.str();
  }
  return out + "]";
}

}  // namespace

std::vector<v2_stream_view> row_streams(gateway_context& context, std::string_view list_reply) {
  std::vector<v2_stream_view> views;
  simdjson::dom::parser parser;
  simdjson::dom::array slots;
  if (parser.parse(list_reply.data(), list_reply.size(), true)["streams"].get_array().get(slots)) return views;
  const auto stats = context.hub.stats();
  for (auto element : slots) {
    simdjson::dom::object slot;
    if (element.get_object().get(slot) || text_of(slot, "format") != "rows") continue;
    const auto slot_name = text_of(slot, "stream");
    const auto name = v2_name_of_slot(slot_name);
    if (name.empty()) continue;
    json_object view;
    view.add("name", name).raw("tables", tables_of(slot));
    if (const auto until = context.snapshots.held_until(slot_name)) {
      view.raw("snapshot", json_object().add("held_until", utc_text(*until)).str());
    } else {
      view.raw("snapshot", "null");
    }
    bool consumer = false;
    if (slot["consumer"].get_bool().get(consumer)) consumer = false;
    view.raw("consumer", json_object().add("connected", consumer).str());
    const auto counted = stats.find(slot_name);
    view.add("observers", static_cast<std::uint64_t>(counted == stats.end() ? 0 : counted->second.observers));
    auto acked = text_of(slot, "acked_lsn");
    view.add("acked_lsn", acked.empty() ? text_of(slot, "confirmed_flush_lsn") : acked);
    std::int64_t lag = 0;
    if (slot["lag_bytes"].get_int64().get(lag)) lag = 0;
    bool lag_warning = false;
    if (slot["lag_warning"].get_bool().get(lag_warning)) lag_warning = false;
    view.add("lag_bytes", lag).add("lag_warning", lag_warning);
    const auto created = text_of(slot, "created_lsn");
    if (created.empty()) {
      view.raw("created_lsn", "null");
    } else {
      view.add("created_lsn", created);
    }
    views.push_back({name, view.str()});
  }
  return views;
}

}  // namespace deltastream::gateway
