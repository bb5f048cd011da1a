#include "proto/subscriber.hpp"

#include <unistd.h>

#include <random>

#include <zmq_addon.hpp>

#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::proto {

namespace {

constexpr auto hold_interval = std::chrono::seconds(1);  // a claim lasts 5 s (PROTOCOL.md)
constexpr auto postgres_retry = std::chrono::seconds(1);
// What the reader may take to answer an attach beyond a plain call: the slot looked up and
// START_REPLICATION answered (each bounded by PostgreSQL's connect_timeout, 10 s by
// default) and up to 5 s for a slot still held by an exiting walsender. An attach sent
// again too early would restart the stream again, and wait for that walsender again.
constexpr auto attach_allowance = std::chrono::seconds(25);
constexpr std::size_t max_frames_per_poll = 256;

std::string make_marker() {
  std::random_device random;
  return "tool-" + std::to_string(getpid()) + "-" + std::to_string(random());
}

std::string seconds_text(std::chrono::milliseconds duration) {
  if (duration < std::chrono::seconds(10)) return std::to_string(duration.count()) + " ms";
  return std::to_string(duration.count() / 1000) + " s";
}

}  // namespace

subscriber::subscriber(zmq::context_t& context, subscriber_settings settings, std::string stream)
    : settings_(std::move(settings)),
      stream_(std::move(stream)),
      marker_(make_marker()),
      control_(context, settings_.reader),
      sub_(context, zmq::socket_type::sub),
      frames_(settings_.max_attach_buffer_bytes) {
  configure_reader_socket(sub_, settings_.reader);
  // The stream's frames, and a marker of our own that matches none: the attach names it,
  // so that the new epoch's first frame waits until this socket would receive it.
  sub_.set(zmq::sockopt::subscribe, topic_for(stream_));
  sub_.set(zmq::sockopt::subscribe, topic_for(stream_) + marker_);
  sub_.connect(settings_.reader.publish);
  // A reader that does not answer at all is told apart quickly from one whose attach
  // waits for PostgreSQL: status is answered within the call timeout.
  control_request probe;
  probe.op = control_op::status;
  remember(control_.send(probe), call_kind::status);
  attach_due_ = clock::now();
}

void subscriber::send_attach() {
  control_request request;
  request.op = control_op::attach;
  request.stream = stream_;
  request.marker = marker_;
  if (consumer()) {
    request.restart = true;  // everything after our last ACK, whoever streamed it meanwhile
    request.consumer = settings_.consumer;
    request.takeover = settings_.takeover && !attached_once_;  // once: later, who took it over wins
  }
  frames_.attaching(!consumer());
  joiner_.reset();
  attach_due_.reset();
  ++attachment_;
  attach_id_ = control_.send(request);
  remember(*attach_id_, call_kind::attach);
}

void subscriber::send(call_kind kind, control_request request) {
  request.stream = stream_;
  request.consumer = settings_.consumer;
  remember(control_.send(std::move(request)), kind);
}

void subscriber::remember(const std::string& id, call_kind kind) {
  pending_[id] = {kind, clock::now(), attachment_};
}

void subscriber::ack(const message& processed) {
  if (!consumer() || !processed.last) return;  // a leading piece acknowledges nothing
  control_request request;
  request.op = control_op::ack;
  request.ack_lsn = processed.position;
  request.epoch = processed.epoch;
  send(call_kind::ack, std::move(request));
}

void subscriber::leave() {
  if (!consumer()) return;
  control_request request;
  request.op = control_op::unhold;
  send(call_kind::unhold, std::move(request));
  // Every ACK sent is answered before we go (or the reader is unreachable).
  const auto deadline = clock::now() + settings_.reader.call_timeout;
  while (!pending_.empty() && clock::now() < deadline) {
    auto reply = control_.receive(std::chrono::milliseconds(100));
    if (!reply) continue;
    const auto found = pending_.find(reply->id);
    if (found == pending_.end()) continue;
    const auto kind = found->second.kind;
    pending_.erase(found);
    if (kind == call_kind::ack && !reply->ok) {
      module_logger("subscriber")->warn("{}: ACK refused: {}", stream_, reply->error);
    }
  }
}

std::optional<subscriber::message> subscriber::next(std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (true) {
    if (!ready_.empty()) {
      auto first = std::move(ready_.front());
      ready_.pop_front();
      return first;
    }
    // Replies and frames that came while the caller was busy (a slow stdout) first: a
    // call answered meanwhile is not late, a stream that sent frames is not silent.
    poll_once(std::chrono::milliseconds(0));
    if (!ready_.empty()) continue;
    const auto now = clock::now();
    tick(now);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    // Wake at least every 100 ms: holds and timeouts are due on time.
    poll_once(std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100)));
    if (ready_.empty() && clock::now() >= deadline) return std::nullopt;
  }
}

void subscriber::keep_alive() {
  while (auto reply = control_.receive(std::chrono::milliseconds(0))) on_reply(*reply);
  tick(clock::now());
}

void subscriber::poll_once(std::chrono::milliseconds timeout) {
  zmq_pollitem_t items[] = {{sub_.handle(), 0, ZMQ_POLLIN, 0}, {control_.socket().handle(), 0, ZMQ_POLLIN, 0}};
  if (zmq_poll(items, 2, static_cast<long>(timeout.count())) <= 0) return;  // nothing, or a signal
  for (std::size_t count = 0; count < max_frames_per_poll; ++count) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(sub_, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
    on_frame(parts);
  }
  while (auto reply = control_.receive(std::chrono::milliseconds(0))) on_reply(*reply);
}

void subscriber::on_frame(std::vector<zmq::message_t>& parts) {
  frame_header header;
  try {
    if (parts.size() != 3) throw protocol_error("expected 3 frames, got " + std::to_string(parts.size()));
    if (stream_of_topic(parts[0].to_string_view()) != stream_) return;
    header = decode_header({static_cast<const std::uint8_t*>(parts[1].data()), parts[1].size()});
  } catch (const protocol_error& error) {
    // Passed over: were it a data frame, the next one's seq shows the gap.
    module_logger("subscriber")->warn("{}: a malformed frame: {}", stream_, error.what());
    return;
  }
  last_frame_ = clock::now();
  if (auto event = frames_.feed(header, std::make_shared<const std::string>(parts[2].to_string()))) {
    act_on(*event);
  }
}

void subscriber::act_on(subscription::event& event) {
  using kind = subscription::event_kind;
  if (event.kind == kind::piece) {
    if (!settings_.join_pieces) {
      ready_.push_back({*event.payload, event.position, event.epoch, event.last});
    } else if (auto whole = joiner_.add(event)) {
      ready_.push_back(std::move(*whole));
    }
    return;
  }
  if (event.kind == kind::dropped) {
    throw subscriber_error(subscriber_error::cause::gone, "stream " + stream_ + " was dropped: " + event.reason);
  }
  reattach(event.reason);
}

void subscriber::reattach(const std::string& why, clock::duration after) {
  module_logger("subscriber")->info("{}: {}; attaching again", stream_, why);
  // What was not processed is thrown away: the new epoch sends it again, after our last ACK.
  frames_.reset();
  joiner_.reset();
  ready_.clear();
  if (attach_id_) pending_.erase(*attach_id_);
  attach_id_.reset();
  attach_due_ = clock::now() + after;
}

void subscriber::on_reply(const control_reply& reply) {
  const auto found = pending_.find(reply.id);
  if (found == pending_.end()) return;  // superseded, or from before the socket was reopened
  const auto call = found->second;
  pending_.erase(found);
  reader_answered_ = true;
  silent_since_.reset();
  switch (call.kind) {
    case call_kind::attach:
      return on_attach_reply(reply);
    case call_kind::hold:
      // One sent under an earlier attach says nothing of the current one.
      if (call.attachment == attachment_ && frames_.following()) on_hold_reply(reply);
      return;
    case call_kind::ack:
      if (reply.ok) return;
      if (reply.code == refusal_code::taken_over) {
        throw subscriber_error(subscriber_error::cause::other_consumer,
                               "stream " + stream_ + " was taken over by another consumer");
      }
      if (reply.code == refusal_code::stale_epoch || reply.code == refusal_code::not_attached) {
        // Its messages come again in the new epoch.
        return module_logger("subscriber")->debug("{}: ACK of an epoch that is over: {}", stream_, reply.error);
      }
      return module_logger("subscriber")->warn("{}: ACK refused: {}", stream_, reply.error);
    case call_kind::status:
    case call_kind::unhold:
      return;
  }
}

void subscriber::on_hold_reply(const control_reply& reply) {
  if (reply.ok) return;
  if (reply.code == refusal_code::taken_over) {
    throw subscriber_error(subscriber_error::cause::other_consumer,
                           "stream " + stream_ + " was taken over by another consumer");
  }
  if (reply.code == refusal_code::not_attached) {
    return reattach("the stream is not streaming (the reader restarted, or it was detached)");
  }
  module_logger("subscriber")->warn("{}: hold refused: {}", stream_, reply.error);
}

void subscriber::on_attach_reply(const control_reply& reply) {
  attach_id_.reset();
  if (reply.ok) {
    attached_once_ = true;
    conflict_retried_ = false;
    refused_since_.reset();
    last_frame_ = last_hold_ = clock::now();
    for (auto& event : frames_.attached(reply.epoch, reply.seq, reply.ended_epoch)) act_on(event);
    return;
  }
  using cause = subscriber_error::cause;
  switch (reply.code) {
    case refusal_code::no_such_stream:
      throw subscriber_error(cause::gone, reply.error);
    case refusal_code::conflict:
      // A consumer that crashed holds its claim until it lapses: wait for that, once.
      if (!conflict_retried_ && reply.retry_after_ms) {
        conflict_retried_ = true;
        return reattach(reply.error, std::chrono::milliseconds(*reply.retry_after_ms + 100));
      }
      throw subscriber_error(cause::other_consumer, reply.error + "; --takeover replaces it");
    case refusal_code::postgres: {
      // PostgreSQL restarting, or the slot held by another program: tried again, for a while.
      const auto now = clock::now();
      if (!refused_since_) refused_since_ = now;
      if (now - *refused_since_ >= settings_.give_up_after) {
        throw subscriber_error(cause::refused, "attach " + stream_ + ": " + reply.error);
      }
      return reattach(reply.error, postgres_retry);
    }
    case refusal_code::not_attached:  // another attach restarted the stream meanwhile
      return reattach(reply.error, std::chrono::milliseconds(100));
    default:
      throw subscriber_error(cause::refused, "attach " + stream_ + ": " + reply.error);
  }
}

void subscriber::tick(clock::time_point now) {
  // A call unanswered in time: the reader went away, or lost it. What the DEALER still
  // queues is unknown, so it starts over on a new socket, and attaches again.
  const auto late = std::find_if(pending_.begin(), pending_.end(), [&](const auto& call) {
    const auto allowed = settings_.reader.call_timeout +
                         (call.second.kind == call_kind::attach ? attach_allowance : std::chrono::seconds(0));
    return now - call.second.sent > allowed;
  });
  if (late != pending_.end()) {
    // Silent since the first call it left unanswered (not since its last answer, which
    // may be hours old for an idle observer).
    if (!silent_since_) silent_since_ = late->second.sent;
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - *silent_since_);
    if (waited >= (reader_answered_ ? settings_.give_up_after : settings_.reader.call_timeout)) {
      throw subscriber_error(subscriber_error::cause::unreachable,
                             "the reader at " + settings_.reader.control + " did not answer for " + seconds_text(waited));
    }
    control_.reopen();
    pending_.clear();
    reattach("the reader did not answer within " + std::to_string(settings_.reader.call_timeout.count()) + " ms");
  }
  if (attach_due_ && now >= *attach_due_) send_attach();
  if (!frames_.following()) return;
  if (consumer() && now - last_hold_ >= hold_interval) {
    last_hold_ = now;
    control_request request;
    request.op = control_op::hold;
    send(call_kind::hold, std::move(request));
  }
  if (now - last_frame_ > settings_.silence_limit) {
    reattach("no word from the reader for " + seconds_text(settings_.silence_limit));
  }
}

}  // namespace deltastream::proto
