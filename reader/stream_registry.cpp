#include "reader/stream_registry.hpp"

#include <unistd.h>

#include <algorithm>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "proto/data_frame.hpp"
#include "reader/row_stream_spec.hpp"

namespace deltastream::reader {

namespace {

using proto::error_reply;
using proto::ok_reply;
using proto::refusal_code;

// The streams' settings, with connections to settings.conninfo that give up after its
// connect_timeout.
stream_settings connecting(const registry_settings& settings) {
  auto streams = settings.streams;
  streams.connect = replication_connection::factory(settings.conninfo);
  streams.start_timeout = std::chrono::seconds(pg_connect_timeout_seconds(settings.conninfo));
  streams.journaled = !settings.ack_journal.empty();
  return streams;
}

}  // namespace

stream_registry::stream_registry(const registry_settings& settings, message_sink& sink,
                                 reply_function reply_later)
    : settings_(settings),
      stream_settings_(connecting(settings)),
      sink_(sink),
      reply_later_(std::move(reply_later)),
      catalog_(settings.conninfo, stream_settings_.start_timeout),
      publications_(catalog_.queries(), settings.publication),
      row_streams_(catalog_.queries()),
      drops_(catalog_, reply_later_),
      creations_(settings.conninfo, settings.snapshot_hold, stream_settings_.start_timeout),
      journal_(settings.ack_journal.empty() ? nullptr : std::make_unique<ack_journal>(settings.ack_journal)),
      watch_(settings.watch) {
  stream_settings_.resolve_types = [this](std::vector<type_key> keys, stream_settings::type_answer answer) {
    resolve_types(std::move(keys), std::move(answer));
  };
}

stream_registry::~stream_registry() = default;

std::optional<std::string> stream_registry::handle(const proto::control_request& request,
                                                   std::uint64_t ticket) {
  // Stream names are checked once here; everything below works with valid names.
  if (!request.stream.empty() && !stream_name::parse(request.stream)) {
    return error_reply(request.id, refusal_code::bad_request,
                       "invalid stream name \"" + request.stream +
                           "\": expected delta_ followed by 1-57 of [a-z0-9_]");
  }
  try {
    return dispatch(request, ticket);
  } catch (const pg_error& error) {  // libpq could not even start a connection
    module_logger("control")->warn("{} {}: {}", proto::to_string(request.op), request.stream, error.what());
    return error_reply(request.id, refusal_code::postgres, error.what());
  }
}

std::optional<std::string> stream_registry::dispatch(const proto::control_request& request,
                                                     std::uint64_t ticket) {
  switch (request.op) {
    case proto::control_op::create: return create(request, ticket);
    case proto::control_op::drop: return drop(request, ticket);
    case proto::control_op::list: return list(request, ticket);
    case proto::control_op::attach: return attach(request, ticket);
    case proto::control_op::detach: return detach(request);
    case proto::control_op::ack: return ack(request);
    case proto::control_op::release: return release(request);
    case proto::control_op::status: return status(request, ticket);
    case proto::control_op::hold: return hold(request);
    case proto::control_op::unhold: return unhold(request);
  }
  return error_reply(request.id, refusal_code::bad_request, "unhandled op");
}

std::optional<std::string> stream_registry::drop(const proto::control_request& request,
                                                 std::uint64_t ticket) {
  bool ours = creations_.release(request.stream);
  if (auto found = streams_.find(request.stream); found != streams_.end()) {
    remove_stream(found, proto::end_code::dropped, "stream dropped");
    ours = true;
  }
  reported_.erase(request.stream);
  if (journal_) journal_->forget(request.stream);
  leases_.forget(request.stream);
  drops_.drop(request.stream, request.id, ticket, ours ? slot_drops::owner::ours : slot_drops::owner::anyone);
  return std::nullopt;  // answered once PostgreSQL has
}

std::optional<std::string> stream_registry::list(const proto::control_request& request,
                                                 std::uint64_t ticket) {
  catalog_.list([this, id = request.id, ticket](slot_catalog::outcome<std::vector<slot_catalog::slot>> slots) {
    reply_later_(ticket, slots.error ? postgres_refusal(id, "list", *slots.error) : describe(id, slots.value));
  });
  return std::nullopt;
}

std::string stream_registry::postgres_refusal(const std::string& id, std::string_view what,
                                              const pg_error& error) const {
  module_logger("control")->warn("{}: {}", what, error.what());
  auto reply = proto::refusal(id, refusal_code::postgres, error.what());
  if (!error.sqlstate().empty()) reply.add("sqlstate", error.sqlstate());
  return reply.str();
}

std::string stream_registry::describe(const std::string& id, const std::vector<slot_catalog::slot>& slots) const {
  std::string items = "[";
  for (const auto& slot : slots) {
    json_object item;
    item.add("stream", slot.name)
        .add("confirmed_flush_lsn", slot.confirmed_flush_lsn)
        .add("lag_bytes", slot.lag_bytes)
        .add("active", slot.active)
        .add("plugin", slot.plugin)
        .add("format", is_row_stream(slot.name) ? "rows" : "wal2json")
        .add("lag_warning", watch_.over_threshold(slot.lag_bytes));
    if (is_row_stream(slot.name)) {
      item.raw("tables", slot.tables.empty() ? "[]" : slot.tables);
      const auto at = slot.comment.rfind(' ');
      if (const auto start = lsn::parse(at == std::string::npos ? "" : slot.comment.substr(at + 1))) {
        item.add("created_lsn", start->to_string());
      }
    }
    const auto attached = streams_.find(slot.name);
    item.add("attached", attached != streams_.end());
    item.add("consumer", leases_.holder(slot.name, clock::now()).has_value());
    if (attached != streams_.end()) {
      item.add("epoch", attached->second->epoch())
          .add("seq", attached->second->seq())
          .add("acked_lsn", attached->second->acked().to_string())
          .add("delivered_lsn", attached->second->delivered().to_string())
          .add("streaming", attached->second->connected())
          .add("awaiting_subscriber", attached->second->awaiting_subscriber())
          .add("held_back", attached->second->has_pending())
          .add("last_ack_age_ms", static_cast<std::int64_t>(
                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                          clock::now() - attached->second->last_ack_time())
                                          .count()))
          .add("reconnects", attached->second->reconnects());
    }
    if (items.size() > 1) items.push_back(',');
    items += item.str();
  }
  items.push_back(']');
  return ok_reply(id).raw("streams", items).str();
}

std::string stream_registry::detach(const proto::control_request& request) {
  auto found = streams_.find(request.stream);
  if (found == streams_.end()) {
    return error_reply(request.id, refusal_code::not_attached,
                       "stream \"" + request.stream + "\" is not attached");
  }
  remove_stream(found, proto::end_code::detached, "detached");
  return ok_reply(request.id).add("stream", request.stream).str();
}

std::string stream_registry::hold(const proto::control_request& request) {
  // A restarted reader streams nothing yet: its consumers learn it here, every second.
  if (!streams_.contains(request.stream)) {
    return error_reply(request.id, refusal_code::not_attached,
                       "stream \"" + request.stream + "\" is not attached (the reader restarted, or it was detached)");
  }
  const auto now = clock::now();
  if (!leases_.renew(request.stream, request.consumer, now)) {
    return error_reply(request.id, refusal_code::taken_over,
                       "stream \"" + request.stream + "\" was taken over by another consumer");
  }
  // A pause lasts as long as the lease it came with: a consumer that vanished while
  // paused leaves the stream to the next one.
  streams_.at(request.stream)->pause_until(request.pause ? now + consumer_leases::lease_duration : clock::time_point{});
  return ok_reply(request.id).add("stream", request.stream).str();
}

std::string stream_registry::unhold(const proto::control_request& request) {
  // The consumer left: its pause goes with it (it may have been the holder no longer).
  if (leases_.holder(request.stream, clock::now()) == request.consumer) {
    if (const auto found = streams_.find(request.stream); found != streams_.end()) found->second->pause_until({});
  }
  leases_.release(request.stream, request.consumer);
  return ok_reply(request.id).add("stream", request.stream).str();
}

std::string stream_registry::ack(const proto::control_request& request) {
  auto found = streams_.find(request.stream);
  if (found == streams_.end()) {
    return error_reply(request.id, refusal_code::not_attached,
                       "stream \"" + request.stream + "\" is not attached");
  }
  // Fenced: only the consumer that holds the stream moves its position. One that was
  // taken over may still have an ACK in flight, past what its successor has processed.
  const auto holder = leases_.holder(request.stream, clock::now());
  if (holder && *holder != request.consumer) {
    return error_reply(request.id, refusal_code::taken_over,
                       "stream \"" + request.stream + "\" is held by another consumer (" + *holder +
                           "); this ACK moves nothing");
  }
  auto& target = *found->second;
  switch (target.ack(*request.epoch, *request.ack_lsn)) {
    case stream::ack_outcome::stale_epoch:
      return error_reply(request.id, refusal_code::stale_epoch,
                         "epoch " + std::to_string(*request.epoch) + " is over (the stream is in epoch " +
                             std::to_string(target.epoch()) + "); this ACK moves nothing");
    case stream::ack_outcome::beyond_delivered:
      return error_reply(request.id, refusal_code::beyond_delivered,
                         "lsn " + request.ack_lsn->to_string() + " is beyond what was delivered (" +
                             target.delivered().to_string() + ")");
    case stream::ack_outcome::accepted:
      if (journal_) journal_->record(request.stream, target.acked());
      break;
    case stream::ack_outcome::unchanged:
      break;
  }
  // The status update goes out on this loop turn (the stream's deadline is now).
  return ok_reply(request.id)
      .add("stream", request.stream)
      .add("acked", target.acked().to_string())
      .str();
}

std::string stream_registry::release(const proto::control_request& request) {
  if (!creations_.release(request.stream)) {
    return error_reply(request.id, refusal_code::no_snapshot,
                       "no snapshot is held for \"" + request.stream + "\"");
  }
  return ok_reply(request.id).add("stream", request.stream).str();
}

std::optional<std::string> stream_registry::status(const proto::control_request& request,
                                                   std::uint64_t ticket) {
  catalog_.reachable([this, id = request.id, ticket](bool postgres) {
    std::string attached = "[";
    for (const auto& [name, current] : streams_) {
      if (attached.size() > 1) attached.push_back(',');
      append_json_string(attached, name);
    }
    attached.push_back(']');
    reply_later_(ticket, ok_reply(id)
                             .add("instance", settings_.instance)
                             .add("pid", static_cast<std::int64_t>(getpid()))
                             .add("postgres", postgres)
                             .raw("attached", attached)
                             .str());
  });
  return std::nullopt;  // answered once PostgreSQL has, or has not within connect_timeout
}

void stream_registry::add_poll_items(std::vector<zmq_pollitem_t>& items) const {
  items.push_back(catalog_.queries().poll_item());
  items.push_back({nullptr, journal_ ? journal_->notice_fd() : -1, ZMQ_POLLIN, 0});
  for (const auto& [name, current] : streams_) {
    const short events = static_cast<short>((current->wants_read() ? ZMQ_POLLIN : 0) |
                                            (current->wants_write() ? ZMQ_POLLOUT : 0));
    // A disconnected stream polls fd -1, which poll() ignores.
    items.push_back({nullptr, current->socket(), events, 0});
  }
  creations_.add_poll_items(items);
}

void stream_registry::step(clock::time_point now, const zmq_pollitem_t* results) {
  ends_.flush(sink_);
  if (results[1].revents & ZMQ_POLLIN) apply_durable();
  std::size_t index = 2;  // the SQL connection's is first, and read last
  for (auto& [name, current] : streams_) {
    // An error or hang-up counts as readable even where input was not polled for (a
    // message pending, or gathering): reading is what notices it, and poll() would
    // report it again at once, spinning the loop.
    const auto revents = results[index++].revents;
    current->step(now, {(revents & (ZMQ_POLLIN | ZMQ_POLLERR)) != 0, (revents & ZMQ_POLLOUT) != 0});
  }
  finish_attaches();
  std::erase_if(streams_, [](const auto& entry) { return entry.second->gone(); });
  creations_.step(now, results + index, reply_later_);
  // Last: its answers may change the streams, which the poll results above follow.
  drops_.retry(now);
  catalog_.queries().step(now, results[0]);
  if (now >= next_watch_) {
    next_watch_ = now + settings_.watch_interval;
    watch_slots();
  }
}

clock::time_point stream_registry::next_deadline(clock::time_point now) const {
  auto deadline = now + std::chrono::seconds(1);
  for (const auto& [name, current] : streams_) deadline = std::min(deadline, current->next_deadline());
  deadline = creations_.next_deadline(deadline);
  deadline = drops_.next_deadline(deadline);
  deadline = catalog_.queries().next_deadline(deadline);
  return deadline;
}

bool stream_registry::has_pending_output() const {
  return !ends_.empty() || std::any_of(streams_.begin(), streams_.end(),
                     [](const auto& entry) { return entry.second->has_pending(); });
}

void stream_registry::apply_durable() {
  for (const auto& [name, position] : journal_->take_durable()) {
    if (const auto found = streams_.find(name); found != streams_.end()) found->second->durable(position);
  }
}

void stream_registry::watch_slots() {
  if (watching_) return;  // the last look has not been answered yet
  watching_ = true;
  catalog_.list([this](slot_catalog::outcome<std::vector<slot_catalog::slot>> listed) {
    watching_ = false;
    if (listed.error) {  // PostgreSQL is away: the streams say so; look again later
      module_logger("control")->debug("slot check: {}", listed.error->what());
      return;
    }
    review_slots(listed.value);
  });
}

void stream_registry::review_slots(const std::vector<slot_catalog::slot>& listed) {
  std::vector<slot_watch::slot> slots;
  for (const auto& slot : listed) {
    slots.push_back({slot.name, slot.lag_bytes,
                     slot.active || streams_.contains(slot.name) || creations_.holds_snapshot(slot.name)});
  }
  auto log = module_logger("control");
  const auto verdict = watch_.review(slots, clock::now());
  for (const auto& name : verdict.lag_warnings) {
    const auto found = std::find_if(slots.begin(), slots.end(), [&](const auto& s) { return s.name == name; });
    log->warn("{}: PostgreSQL keeps {} MiB of WAL for this slot (over --lag-warning-bytes): "
              "is its consumer ACKing?", name, found->lag_bytes >> 20);
  }
  for (const auto& name : verdict.to_drop) {
    log->warn("{}: dropping the slot, unused for {} s (--drop-unattached-after)", name,
              settings_.watch.drop_unattached_after.count());
    proto::control_request request;
    request.op = proto::control_op::drop;
    request.stream = name;
    handle(request, 0);
  }
}

void stream_registry::remove_stream(std::map<std::string, std::shared_ptr<stream>>::iterator found,
                                    proto::end_code code, const std::string& reason) {
  found->second->stop(code, reason);
  reported_[found->first] = found->second->resume_position();
  streams_.erase(found);
}

void stream_registry::stop_all(const std::string& reason) {
  for (auto& [name, current] : streams_) current->stop(proto::end_code::shutdown, reason);
  streams_.clear();
  creations_.clear();
}

}  // namespace deltastream::reader
