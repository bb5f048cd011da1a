#include "reader/stream_registry.hpp"

#include <algorithm>

#include "common/logging.hpp"
#include "reader/row_stream_spec.hpp"

// How a consumer attaches to a stream: the slot is checked and streaming started before
// the consumer's lease is granted, and every reply waits for PostgreSQL's answer.
namespace deltastream::reader {

using proto::error_reply;
using proto::ok_reply;
using proto::refusal_code;

std::optional<std::string> stream_registry::attach(const proto::control_request& request,
                                                   std::uint64_t ticket) {
  const bool takeover = request.takeover && !request.consumer.empty();
  if (takeover) takeovers_.emplace(request.stream, request.consumer);
  auto reply = begin_attach(request, ticket);
  if (reply && takeover) end_takeover(request);
  return reply;
}

void stream_registry::end_takeover(const proto::control_request& request) {
  if (!request.takeover) return;
  const auto [first, last] = takeovers_.equal_range(request.stream);
  const auto mine = std::find_if(first, last, [&](const auto& entry) { return entry.second == request.consumer; });
  if (mine != last) takeovers_.erase(mine);
}

void stream_registry::answer_attach(std::uint64_t ticket, const proto::control_request& request, std::string reply) {
  end_takeover(request);
  reply_later_(ticket, std::move(reply));
}

std::optional<std::string> stream_registry::begin_attach(const proto::control_request& request,
                                                         std::uint64_t ticket) {
  if (const auto refused = lease_refusal(request)) return refused;
  if (const auto found = streams_.find(request.stream); found != streams_.end() && !request.restart) {
    return join(request, ticket, found->second);
  }
  // A drop under way (its walsender still exiting) has made the stream gone already.
  if (drops_.dropping(request.stream)) return no_such_stream(request);
  // The slot is checked and streaming started before the lease is granted: an attach
  // that fails locks nobody out.
  const auto name = *stream_name::parse(request.stream);
  catalog_.committed_position(name, settings_.publication, [this, request, ticket](auto slot) {
    if (auto reply = start_attach(request, ticket, std::move(slot))) answer_attach(ticket, request, std::move(*reply));
  });
  return std::nullopt;  // answered once PostgreSQL has
}

std::optional<std::string> stream_registry::join(const proto::control_request& request, std::uint64_t ticket,
                                                 const std::shared_ptr<stream>& current) {
  if (!current->starting()) {
    current->pause_until({});  // the previous consumer's pause is not the new one's
    return grant_attach(request, *current, std::nullopt);
  }
  attaches_.push_back({ticket, request, current, std::nullopt, false});
  return std::nullopt;  // it joins once PostgreSQL answered
}

std::string stream_registry::no_such_stream(const proto::control_request& request) const {
  return error_reply(request.id, refusal_code::no_such_stream, "no such stream \"" + request.stream + "\"");
}

std::optional<std::string> stream_registry::start_attach(const proto::control_request& request,
                                                         std::uint64_t ticket,
                                                         slot_catalog::outcome<std::optional<slot_catalog::position>> slot) {
  if (slot.error) return postgres_refusal(request.id, "attach " + request.stream, *slot.error);
  // Checked again: the world moved on while PostgreSQL answered.
  if (const auto refused = lease_refusal(request)) return refused;
  auto found = streams_.find(request.stream);
  if (found != streams_.end() && !request.restart) return join(request, ticket, found->second);
  if (!slot.value || drops_.dropping(request.stream)) return no_such_stream(request);
  const auto name = *stream_name::parse(request.stream);
  auto committed = slot.value->confirmed_flush;
  std::optional<std::uint64_t> ended_epoch;
  if (found != streams_.end()) {
    ended_epoch = found->second->epoch();
    remove_stream(found, proto::end_code::restarted, "restarted by attach");
  }
  // What was acknowledged may be past the slot's position, which rewinds in a crash.
  if (auto known = reported_.find(request.stream); known != reported_.end()) {
    committed = std::max(committed, known->second);
  }
  if (const auto journaled = journal_ ? journal_->position(request.stream) : std::nullopt) {
    if (*journaled <= slot.value->current_wal) {
      committed = std::max(committed, *journaled);
    } else {  // a journal of another cluster, or of this one before a restore from backup
      module_logger("journal")->warn("{}: ignoring its acknowledged position {}: PostgreSQL's WAL ends at {} "
                                     "(was the database restored from a backup?)",
                                     request.stream, journaled->to_string(), slot.value->current_wal.to_string());
      journal_->forget(request.stream);
    }
  }
  if (is_row_stream(request.stream) && (slot.value->plugin != "pgoutput" || slot.value->publications.empty())) {
    return error_reply(request.id, refusal_code::postgres,
                       "row stream \"" + request.stream + "\" has lost its publication (of the same name): "
                       "drop the stream and create it again");
  }
  if (slot.value->plugin == "pgoutput" && slot.value->publications.empty()) {
    return error_reply(request.id, refusal_code::postgres,
                       "publication \"" + settings_.publication + "\" does not exist: create a stream with "
                       "\"plugin\": \"pgoutput\" to have it created, or create it yourself");
  }
  auto attached = std::make_shared<stream>(name, committed, make_decoder(name, *slot.value), stream_settings_, sink_,
                                           ends_, epochs_);
  attached->start(request.marker);  // never blocks: the reply waits for PostgreSQL's answer
  attaches_.push_back({ticket, request, attached, ended_epoch, true});
  streams_[request.stream] = std::move(attached);
  return std::nullopt;  // answered once START_REPLICATION is
}

std::optional<std::string> stream_registry::lease_refusal(const proto::control_request& request) {
  if (request.consumer.empty()) return std::nullopt;
  const auto [first, last] = takeovers_.equal_range(request.stream);
  const auto taking = std::find_if(first, last, [&](const auto& entry) { return entry.second != request.consumer; });
  if (taking != last && !request.takeover) {
    return proto::refusal(request.id, refusal_code::conflict,
                          "stream \"" + request.stream + "\" is being taken over by " + taking->second)
        .add("conflict", true)
        .add("retry_after_ms", static_cast<std::uint64_t>(consumer_leases::lease_duration.count()))
        .str();
  }
  const auto refused = leases_.check(request.stream, request.consumer, request.takeover, clock::now());
  if (!refused) return std::nullopt;
  return proto::refusal(request.id, refusal_code::conflict,
                        "stream \"" + request.stream + "\" already has a consumer (" + refused->holder + ")")
      .add("conflict", true)
      .add("retry_after_ms", static_cast<std::uint64_t>(refused->retry_after.count()))
      .str();
}

std::string stream_registry::grant_attach(const proto::control_request& request, const stream& current,
                                          std::optional<std::uint64_t> ended_epoch) {
  if (!request.consumer.empty()) leases_.grant(request.stream, request.consumer, clock::now());
  auto reply = ok_reply(request.id);
  reply.add("stream", request.stream)
      .add("epoch", current.epoch())
      .add("seq", current.seq())
      .add("start_lsn", current.acked().to_string());
  if (ended_epoch) reply.add("ended_epoch", *ended_epoch);
  return reply.str();
}

void stream_registry::finish_attaches() {
  std::erase_if(attaches_, [this](const pending_attach& pending) {
    const auto found = streams_.find(pending.request.stream);
    const auto target = pending.target.lock();
    const bool same = target && found != streams_.end() && found->second == target;
    if (same && target->starting()) return false;  // PostgreSQL has not answered yet
    std::string reply;
    if (!same) {
      reply = error_reply(pending.request.id, refusal_code::not_attached,
                          "stream \"" + pending.request.stream +
                              "\" was detached, dropped or restarted by another attach meanwhile");
    } else if (target->connected()) {
      // Checked again: another consumer may have been granted the stream meanwhile.
      auto refused = lease_refusal(pending.request);
      reply = refused ? std::move(*refused) : grant_attach(pending.request, *target, pending.ended_epoch);
    } else {
      const auto& failure = target->start_failure();
      module_logger("control")->warn("attach {}: {}", pending.request.stream, failure);
      reply = error_reply(pending.request.id, refusal_code::postgres, failure);
      if (pending.created) streams_.erase(found);  // it never streamed: no epoch to end
    }
    answer_attach(pending.ticket, pending.request, std::move(reply));
    return true;
  });
}

}  // namespace deltastream::reader
