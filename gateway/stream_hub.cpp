#include "gateway/stream_hub.hpp"

#include <algorithm>

#include "common/logging.hpp"
#include "gateway/v2_path.hpp"
#include "proto/stream_end.hpp"

namespace deltastream::gateway {

stream_hub::stream_hub(std::size_t max_attach_buffer_bytes)
    : max_attach_buffer_bytes_(max_attach_buffer_bytes) {}

bool stream_hub::has_consumer(const std::string& stream) const {
  const auto found = streams_.find(stream);
  return found != streams_.end() && found->second.consumer.client != nullptr;
}

void stream_hub::claim_consumer(const std::string& stream, stream_client* client) {
  auto& entry = streams_[stream];
  if (entry.consumer.client) {
    end_consumer(stream, entry, close_code::policy, "taken over by a new consumer connection");
  }
  entry.consumer.client = client;
  entry.consumer.frames = proto::subscription(max_attach_buffer_bytes_);
  entry.consumer.frames.attaching();
  entry.last_frame = std::chrono::steady_clock::now();
}

void stream_hub::consumer_attached(const std::string& stream, stream_client* client,
                                   std::uint64_t epoch, std::uint64_t seq,
                                   std::optional<std::uint64_t> ended_epoch) {
  auto found = streams_.find(stream);
  if (found == streams_.end() || found->second.consumer.client != client) return;
  for (auto& event : found->second.consumer.frames.attached(epoch, seq, ended_epoch)) {
    // A delivery may have ended the client, which may have removed the entry.
    found = streams_.find(stream);
    if (found == streams_.end() || found->second.consumer.client != client) return;
    act_on(stream, found->second, event);
  }
  forget_if_empty(stream);
}

void stream_hub::add_observer(const std::string& stream, stream_client* client) {
  auto& entry = streams_[stream];
  if (entry.observers.empty() && !entry.consumer.client) {
    entry.last_frame = std::chrono::steady_clock::now();
  }
  (open_messages_.contains(stream) ? entry.joining : entry.observers).push_back(client);
}

void stream_hub::remove(const std::string& stream, stream_client* client) {
  auto found = streams_.find(stream);
  if (found == streams_.end()) return;
  auto& entry = found->second;
  bool removed = std::erase(entry.observers, client) + std::erase(entry.joining, client) > 0;
  if (entry.consumer.client == client) {
    entry.consumer.client = nullptr;
    entry.consumer.frames.reset();
    removed = true;
  }
  // Only when something was removed: a client ended by the hub calls remove() while
  // the hub still holds a reference to the entry.
  if (removed) forget_if_empty(stream);
}

void stream_hub::on_frame(const std::string& stream, const proto::frame_header& header,
                          const std::shared_ptr<const std::string>& payload) {
  if (header.kind == proto::frame_kind::stream_end && proto::decode_stream_end(*payload).ends_for_good()) {
    open_messages_.erase(stream);
    return drop(stream);  // also with no connection here: its counters go
  }
  const auto before = track_open_message(stream, header);
  auto found = streams_.find(stream);
  if (found == streams_.end()) return;
  auto& entry = found->second;
  entry.last_frame = std::chrono::steady_clock::now();
  count_received(stream, header, *payload);
  deliver_to_observers(stream, entry, header, payload, before);
  found = streams_.find(stream);  // deliveries may have removed the entry
  if (found == streams_.end()) return;
  if (!found->second.consumer.client) return forget_if_empty(stream);
  if (auto event = found->second.consumer.frames.feed(header, payload)) act_on(stream, found->second, *event);
  forget_if_empty(stream);  // the consumer may have been ended
}

void stream_hub::act_on(const std::string& stream, stream_entry& entry, proto::subscription::event& event) {
  using kind = proto::subscription::event_kind;
  switch (event.kind) {
    case kind::piece:
      count_delivery(stream, event.payload->size(), 1, event.last);
      entry.consumer.client->deliver(std::move(event.payload), event.position, event.last);
      return;
    case kind::restart:
      return end_consumer(stream, entry, close_code::restarting, event.reason + resume_hint);
    case kind::gap:
      return end_consumer(stream, entry, close_code::internal_error,
                          "changes were lost between reader and gateway (" + event.reason + ")" + resume_hint);
    case kind::overflow:
      return end_consumer(stream, entry, close_code::policy,
                          "too many changes arrived while attaching" + std::string(resume_hint));
    case kind::dropped:
      return end_consumer(stream, entry, close_code::normal, event.reason);
  }
}

std::optional<stream_hub::open_message> stream_hub::track_open_message(
    const std::string& stream, const proto::frame_header& header) {
  if (header.kind == proto::frame_kind::heartbeat) {
    if (open_messages_.empty()) return std::nullopt;
    const auto found = open_messages_.find(stream);
    return found == open_messages_.end() ? std::nullopt : std::optional(found->second);
  }
  std::optional<open_message> before;
  if (const auto found = open_messages_.find(stream); found != open_messages_.end()) {
    before = found->second;
    if (header.kind != proto::frame_kind::data_part) open_messages_.erase(found);
  }
  if (header.kind == proto::frame_kind::data_part) {
    open_messages_[stream] = {header.epoch, header.seq};
  }
  return before;
}

void stream_hub::deliver_to_observers(const std::string& stream, stream_entry& entry,
                                      const proto::frame_header& header,
                                      const std::shared_ptr<const std::string>& payload,
                                      const std::optional<open_message>& before) {
  // Observers watch live: no replay, no ACK, no gap checks; but a message they are in
  // the middle of must go on with its next piece, or their WebSocket message could
  // never be finished.
  const bool continues = before && proto::carries_data(header.kind) &&
                         header.epoch == before->epoch && header.seq == before->seq + 1;
  if (before && !continues && header.kind != proto::frame_kind::heartbeat) {
    if (header.epoch == before->epoch && proto::carries_data(header.kind)) {
      // Pieces were lost: where the next message starts is unknown to anyone.
      entry.observers.insert(entry.observers.end(), entry.joining.begin(), entry.joining.end());
      entry.joining.clear();
      return end_observers(stream, entry, close_code::internal_error,
                           "pieces of a transaction were lost between reader and gateway");
    }
    end_observers(stream, entry, close_code::restarting,
                  "the reader restarted the stream in the middle of a transaction");
  }
  if (!proto::carries_data(header.kind)) return;
  const bool last_piece = header.kind == proto::frame_kind::data;
  auto found = streams_.find(stream);  // ending observers may have removed the entry
  if (found == streams_.end()) return;
  if (!found->second.observers.empty()) {
    // A copy of the list, as a delivery may end an observer (queue over its limit),
    // which removes it.
    const auto observers = found->second.observers;
    count_delivery(stream, payload->size(), observers.size(), last_piece);
    for (auto* observer : observers) observer->deliver(payload, header.position, last_piece);
  }
  found = streams_.find(stream);
  if (found == streams_.end() || !last_piece || found->second.joining.empty()) return;
  auto& current = found->second;
  current.observers.insert(current.observers.end(), current.joining.begin(), current.joining.end());
  current.joining.clear();
}

void stream_hub::end_observers(const std::string& stream, stream_entry& entry, close_code code,
                               const std::string& reason) {
  auto observers = std::move(entry.observers);
  entry.observers = std::move(entry.joining);  // they had not started a message
  entry.joining.clear();
  module_logger("hub")->info("{}: {} observer(s) closed: {}", stream, observers.size(), reason);
  for (auto* observer : observers) observer->end(code, reason);
}

void stream_hub::end_consumer(const std::string& stream, stream_entry& entry, close_code code,
                              std::string reason) {
  auto* client = entry.consumer.client;
  entry.consumer.client = nullptr;
  entry.consumer.frames.reset();
  module_logger("hub")->info("{}: consumer closed: {}", stream, reason);
  if (client) client->end(code, std::move(reason));
}

void stream_hub::drop(const std::string& stream) {
  if (auto found = streams_.find(stream); found != streams_.end()) {
    // Not "reconnect to resume": a reconnect would get 404.
    const auto v2_name = v2_name_of_slot(stream);
    const std::string reason = v2_name.empty()
                                   ? "the stream was dropped: its slot no longer exists; /v1/init creates a new one"
                                   : "stream \"" + v2_name + "\" was deleted";
    auto& entry = found->second;
    entry.observers.insert(entry.observers.end(), entry.joining.begin(), entry.joining.end());
    entry.joining.clear();
    if (!entry.observers.empty()) end_observers(stream, entry, close_code::normal, reason);
    if (entry.consumer.client) end_consumer(stream, entry, close_code::normal, reason);
    forget_if_empty(stream);
  }
  counters_.erase(stream);  // after the ends, which count their disconnects
}

void stream_hub::forget_if_empty(const std::string& stream) {
  auto found = streams_.find(stream);
  if (found != streams_.end() && !found->second.consumer.client && found->second.observers.empty() &&
      found->second.joining.empty()) {
    streams_.erase(found);
  }
}

void stream_hub::check_liveness(std::chrono::steady_clock::time_point now,
                                std::chrono::milliseconds limit) {
  std::vector<std::pair<std::string, stream_client*>> silent;
  for (auto& [name, entry] : streams_) {
    // A consumer still attaching is bounded by the reader call's own timeout.
    if (now - entry.last_frame <= limit || entry.consumer.frames.is_attaching()) continue;
    if (entry.consumer.client) silent.emplace_back(name, entry.consumer.client);
    for (auto* observer : entry.observers) silent.emplace_back(name, observer);
    for (auto* observer : entry.joining) silent.emplace_back(name, observer);
  }
  if (silent.empty()) return;
  const std::string reason = "no word from the reader for " + std::to_string(limit.count() / 1000) +
                             " s (stopped or restarted)" + resume_hint;
  for (const auto& [name, client] : silent) {
    module_logger("hub")->warn("{}: {}", name, reason);
    remove(name, client);
    client->end(close_code::restarting, reason);
  }
}

void stream_hub::end_all(close_code code, const std::string& reason) {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [name, entry] : streams) {
    if (entry.consumer.client) entry.consumer.client->end(code, reason);
    for (auto* observer : entry.observers) observer->end(code, reason);
    for (auto* observer : entry.joining) observer->end(code, reason);
  }
}

void stream_hub::count_delivery(const std::string& stream, std::size_t bytes, std::size_t clients,
                                bool last_piece) {
  auto& counters = counters_[stream];
  if (last_piece) counters.messages += clients;
  counters.bytes += bytes * clients;
}

void stream_hub::count_received(const std::string& stream, const proto::frame_header& header,
                                const std::string& payload) {
  if (!proto::carries_data(header.kind)) return;
  const bool last_piece = header.kind != proto::frame_kind::data_part;
  if (v2_name_of_slot(stream).empty()) {
    if (last_piece) ++counters_[stream].received;  // v1: a transaction is one message
    return;
  }
  // A row stream's pieces are whole lines, one event each; only the last has no '\n'.
  counters_[stream].received += static_cast<std::uint64_t>(std::count(payload.begin(), payload.end(), '\n')) +
                                (last_piece && !payload.empty() ? 1 : 0);
}

void stream_hub::count_disconnect(const std::string& stream, close_code code) {
  ++counters_[stream].disconnects[static_cast<std::uint16_t>(code)];
}

std::map<std::string, stream_hub::stream_stats> stream_hub::stats() const {
  auto result = counters_;
  for (const auto& [name, entry] : streams_) {
    auto& current = result[name];
    current.consumers = entry.consumer.client && !entry.consumer.frames.is_attaching() ? 1 : 0;
    current.observers = entry.observers.size() + entry.joining.size();
  }
  return result;
}

std::size_t stream_hub::consumers() const {
  return std::count_if(streams_.begin(), streams_.end(),
                       [](const auto& entry) { return entry.second.consumer.client != nullptr; });
}

std::size_t stream_hub::observers() const {
  std::size_t count = 0;
  for (const auto& [name, entry] : streams_) count += entry.observers.size() + entry.joining.size();
  return count;
}

}  // namespace deltastream::gateway
