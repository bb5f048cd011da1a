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

// What every slot's view shows of its state: its consumer (anywhere), observers (here),
// how far it is acknowledged and how much WAL PostgreSQL keeps for it.
void add_state(json_object& view, simdjson::dom::object slot,
               const std::map<std::string, stream_hub::stream_stats>& stats, const std::string& slot_name) {
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
    add_state(view, slot, stats, slot_name);
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


std::string all_slots(gateway_context& context, std::string_view list_reply,
                      const std::optional<access_grant>& grant, lag_samples history) {
  simdjson::dom::parser parser;
  simdjson::dom::array slots;
  std::string items = "[";
  if (parser.parse(list_reply.data(), list_reply.size(), true)["streams"].get_array().get(slots)) return items + "]";
  const auto stats = context.hub.stats();
  for (auto element : slots) {
    simdjson::dom::object slot;
    if (element.get_object().get(slot)) continue;
    const auto slot_name = text_of(slot, "stream");
    const auto v2_name = text_of(slot, "format") == "rows" ? v2_name_of_slot(slot_name) : std::string();
    // A token limited to some v2 streams sees only those (and no v1 slot).
    if (grant && grant->limited() && (v2_name.empty() || !grant->reads(v2_name))) continue;
    json_object view;
    view.add("slot", slot_name).add("api", v2_name.empty() ? "v1" : "v2").add("name", v2_name.empty() ? slot_name : v2_name);
    view.raw("tables", v2_name.empty() ? "null" : tables_of(slot));
    add_state(view, slot, stats, slot_name);
    const auto counted = stats.find(slot_name);
    view.add("messages_received", counted == stats.end() ? std::uint64_t{0} : counted->second.received);
    if (history == lag_samples::included) {
      view.raw("lag_history", context.lag.json_of(slot_name, std::chrono::system_clock::now()));
    }
    if (items.size() > 1) items += ',';
    items += view.str();
  }
  return items + "]";
}

}  // namespace deltastream::gateway
