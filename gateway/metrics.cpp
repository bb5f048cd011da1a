#include "gateway/metrics.hpp"

#include <simdjson.h>

#include <fmt/format.h>

#include "gateway/v2_path.hpp"

namespace deltastream::gateway {

namespace {

// One metric family: HELP and TYPE once, then its samples.
class family {
 public:
  family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
      : out_(out), name_(name) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  // Stream names are delta_[a-z0-9_]: nothing to escape in a label value. A v2 stream
  // is labelled by its name too, as its API knows it.
  void sample(std::string_view stream, double value) {
    fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name_, labels(stream), value);
  }
  void sample(std::string_view stream, std::uint16_t code, double value) {
    fmt::format_to(std::back_inserter(out_), "{}{{{},code=\"{}\"}} {}\n", name_, labels(stream), code, value);
  }
  void sample(double value) { fmt::format_to(std::back_inserter(out_), "{} {}\n", name_, value); }

 private:
  static std::string labels(std::string_view stream) {
    const auto v2_name = v2_name_of_slot(stream);
    return "stream=\"" + std::string(stream) + "\"" + (v2_name.empty() ? "" : ",v2_stream=\"" + v2_name + "\"");
  }

  std::string& out_;
  std::string_view name_;
};

struct reader_slot {
  std::string stream;
  double lag_bytes = 0;
  bool lag_warning = false;
  bool active = false;
  bool attached = false;
  double last_ack_age_ms = 0;
  double reconnects = 0;
};

bool flag(simdjson::dom::element item, std::string_view key) {
  bool value = false;
  return !item[key].get_bool().get(value) && value;
}

// The reader's list reply; malformed parts are skipped (it is our own reader's JSON).
std::vector<reader_slot> parse_slots(std::string_view json, bool& reachable) {
  std::vector<reader_slot> slots;
  simdjson::dom::parser parser;
  simdjson::dom::object reply;
  bool ok = false;
  reachable = !json.empty() &&
              !parser.parse(json.data(), json.size(), true).get_object().get(reply) &&
              !reply["ok"].get_bool().get(ok) && ok;
  simdjson::dom::array items;
  if (!reachable || reply["streams"].get_array().get(items)) return slots;
  for (auto item : items) {
    reader_slot slot;
    std::string_view name;
    if (item["stream"].get_string().get(name)) continue;
    slot.stream = std::string(name);
    std::int64_t number = 0;
    if (!item["lag_bytes"].get_int64().get(number)) slot.lag_bytes = static_cast<double>(number);
    if (!item["last_ack_age_ms"].get_int64().get(number)) slot.last_ack_age_ms = static_cast<double>(number);
    if (!item["reconnects"].get_int64().get(number)) slot.reconnects = static_cast<double>(number);
    slot.lag_warning = flag(item, "lag_warning");
    slot.active = flag(item, "active");
    slot.attached = flag(item, "attached");
    slots.push_back(std::move(slot));
  }
  return slots;
}

}  // namespace

std::string render_metrics(const std::map<std::string, stream_hub::stream_stats>& streams,
                           const process_figures& process, std::string_view reader_list_json) {
  std::string out;
  bool reachable = false;
  const auto slots = parse_slots(reader_list_json, reachable);

  family(out, "deltastream_reader_up", "gauge", "1 when the reader answered this scrape's list request")
      .sample(reachable ? 1 : 0);
  family(out, "deltastream_reader_link_disconnects_total", "counter",
         "Times the ZeroMQ connection to the reader was lost")
      .sample(static_cast<double>(process.reader_disconnects));

  family lag(out, "deltastream_slot_lag_bytes", "gauge",
             "WAL PostgreSQL keeps for the slot: pg_current_wal_lsn() - confirmed_flush_lsn");
  for (const auto& slot : slots) lag.sample(slot.stream, slot.lag_bytes);
  family warning(out, "deltastream_slot_lag_warning", "gauge",
                 "1 when the slot's lag is over the reader's --lag-warning-bytes");
  for (const auto& slot : slots) warning.sample(slot.stream, slot.lag_warning ? 1 : 0);
  family active(out, "deltastream_slot_active", "gauge", "1 while a walsender streams the slot");
  for (const auto& slot : slots) active.sample(slot.stream, slot.active ? 1 : 0);
  family ack_age(out, "deltastream_stream_last_ack_age_seconds", "gauge",
                 "Seconds since the stream's last ACK (or its attach), for attached streams");
  for (const auto& slot : slots) {
    if (slot.attached) ack_age.sample(slot.stream, slot.last_ack_age_ms / 1000.0);
  }
  family reconnects(out, "deltastream_stream_reconnects_total", "counter",
                    "Times the reader lost and re-made the stream's replication connection");
  for (const auto& slot : slots) {
    if (slot.attached) reconnects.sample(slot.stream, slot.reconnects);
  }

  family messages(out, "deltastream_messages_delivered_total", "counter",
                  "Messages handed to WebSocket connections (one per connection)");
  for (const auto& [stream, stats] : streams) messages.sample(stream, static_cast<double>(stats.messages));
  family received(out, "deltastream_messages_received_total", "counter",
                  "Messages the gateway received from the reader while it had connections to the stream "
                  "(v1: transactions, v2: events)");
  for (const auto& [stream, stats] : streams) received.sample(stream, static_cast<double>(stats.received));
  family bytes(out, "deltastream_bytes_delivered_total", "counter",
               "Bytes handed to WebSocket connections");
  for (const auto& [stream, stats] : streams) bytes.sample(stream, static_cast<double>(stats.bytes));
  family consumers(out, "deltastream_consumers", "gauge", "Consumer connections (0 or 1)");
  for (const auto& [stream, stats] : streams) consumers.sample(stream, static_cast<double>(stats.consumers));
  family observers(out, "deltastream_observers", "gauge", "Observer connections");
  for (const auto& [stream, stats] : streams) observers.sample(stream, static_cast<double>(stats.observers));
  family disconnects(out, "deltastream_disconnects_total", "counter",
                     "Connections the gateway closed, by WebSocket close code");
  for (const auto& [stream, stats] : streams) {
    for (const auto& [code, count] : stats.disconnects) {
      disconnects.sample(stream, code, static_cast<double>(count));
    }
  }
  return out;
}

}  // namespace deltastream::gateway
