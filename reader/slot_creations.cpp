#include "reader/slot_creations.hpp"

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "proto/control_message.hpp"

namespace deltastream::reader {

namespace {

short poll_events(replication_source::wait_for wait) {
  return wait == replication_source::wait_for::readable ? ZMQ_POLLIN : ZMQ_POLLOUT;
}

}  // namespace

slot_creations::slot_creations(std::string conninfo, std::chrono::seconds hold,
                               std::chrono::milliseconds answer_timeout)
    : conninfo_(std::move(conninfo)), hold_(hold), answer_timeout_(answer_timeout) {}

void slot_creations::create(const stream_name& name, const std::string& plugin, std::string id,
                            std::uint64_t ticket, finished_function finished) {
  auto connection = std::make_unique<replication_connection>(conninfo_);
  connection->create_slot(name.str(), plugin);
  const auto wait = std::get<replication_source::wait_for>(connection->poll_create_slot());
  creating_.push_back({ticket, std::move(id), name.str(), plugin, std::move(finished), std::move(connection), wait,
                       clock::now() + answer_timeout_});
}

void slot_creations::add_poll_items(std::vector<zmq_pollitem_t>& items) const {
  for (const auto& pending : creating_) {
    items.push_back({nullptr, pending.connection->socket(), poll_events(pending.wait), 0});
  }
}

void slot_creations::step(clock::time_point now, const zmq_pollitem_t* results,
                          const reply_function& reply) {
  // One result per creation polled; finished ones leave the list as we go.
  for (std::size_t i = 0, polled = 0; i < creating_.size(); ++polled) {
    auto& pending = creating_[i];
    std::optional<std::string> answer;
    try {
      if (results[polled].revents & (poll_events(pending.wait) | ZMQ_POLLERR)) {
        auto outcome = pending.connection->poll_create_slot();
        if (const auto* created = std::get_if<replication_connection::created_slot>(&outcome)) {
          answer = proto::ok_reply(pending.id)
                       .add("stream", created->slot)
                       .add("slot", created->slot)
                       .add("snapshot", created->snapshot)
                       .add("consistent_point", created->consistent_point.to_string())
                       .add("plugin", pending.plugin)
                       .str();
          module_logger("control")->info("created {} ({}) at {} (snapshot {})", created->slot, pending.plugin,
                                         created->consistent_point.to_string(), created->snapshot);
          snapshots_[pending.name] = {std::move(pending.connection), now + hold_};
          if (pending.finished) pending.finished(created->consistent_point);
        } else {
          pending.wait = std::get<replication_source::wait_for>(outcome);
        }
      }
      if (!answer && now >= pending.deadline) {
        throw pg_error("PostgreSQL did not answer within " +
                           std::to_string(answer_timeout_.count() / 1000) + " s (connect_timeout)",
                       "08006");
      }
    } catch (const std::exception& error) {  // pg_error or protocol_error
      module_logger("control")->warn("create {}: {}", pending.name, error.what());
      answer = proto::error_reply(pending.id, proto::refusal_code::postgres, error.what());
      if (pending.finished) pending.finished(std::nullopt);
    }
    if (answer) {
      reply(pending.ticket, std::move(*answer));
      creating_.erase(creating_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  expire(now);
}

slot_creations::clock::time_point slot_creations::next_deadline(clock::time_point deadline) const {
  for (const auto& pending : creating_) deadline = std::min(deadline, pending.deadline);
  for (const auto& [name, held] : snapshots_) deadline = std::min(deadline, held.expires);
  return deadline;
}

bool slot_creations::release(const std::string& stream) { return snapshots_.erase(stream) > 0; }

void slot_creations::clear() {
  creating_.clear();
  snapshots_.clear();
}

void slot_creations::expire(clock::time_point now) {
  std::erase_if(snapshots_, [now](const auto& entry) {
    if (entry.second.expires > now) return false;
    module_logger("control")->info("{}: released the exported snapshot (held too long)", entry.first);
    return true;
  });
}

}  // namespace deltastream::reader
