#include "gateway/websocket_session.hpp"

#include <algorithm>

#include "common/logging.hpp"

// A consumer's claim on its stream, renewed every second, and its pace: a consumer that
// falls behind in a message that comes in pieces (a large transaction) pauses its stream
// at the reader instead of being closed for it.
namespace deltastream::gateway {

template <class Stream>
void websocket_session<Stream>::renew_lease() {
  std::weak_ptr<websocket_session> weak = this->shared_from_this();
  lease_timer_.expires_after(lease_renewal_interval);
  lease_timer_.async_wait([weak](beast::error_code error) {
    auto self = weak.lock();
    if (error || !self || self->ended_) return;
    // A client that reads nothing at all would hold its stream paused for ever (and its
    // observers, and the WAL PostgreSQL keeps for the slot): paused with no write done
    // for stall_limit, it is closed as a client that is too slow.
    if (self->paused_ && std::chrono::steady_clock::now() - self->last_progress_ > stall_limit) {
      return self->end(close_code::policy, "client too slow: it read nothing for " +
                                               std::to_string(stall_limit.count()) + " s" + resume_hint);
    }
    proto::control_request hold;
    hold.op = proto::control_op::hold;
    hold.stream = self->stream_;
    hold.consumer = self->attach_.consumer;
    hold.pause = self->paused_;  // a pause lasts one lease: renewed with it
    self->context_.link.call(hold, [weak](const proto::control_reply& reply) {
      auto self = weak.lock();
      if (!self || self->ended_) return;
      // Only a holder that lost its lease stops; a reader that cannot be reached is the
      // liveness check's business.
      if (!reply.ok && reply.code == proto::refusal_code::taken_over) {
        return self->end(close_code::policy, "taken over by a consumer on another gateway");
      }
      // Within a second of a reader restart, not after the silence limit.
      if (!reply.ok && reply.code == proto::refusal_code::not_attached) {
        return self->end(close_code::restarting,
                         "the reader no longer streams this slot (it restarted, or the stream was detached)" +
                             std::string(resume_hint));
      }
      self->renew_lease();
    });
  });
}

template <class Stream>
void websocket_session<Stream>::pace() {
  if (role_ != role::consumer || ended_) return;
  // Pause at 4 MiB (or a quarter of the bound), so that the gateway's memory stays near
  // what a fast client needs and what the reader had sent before it heard fits under the
  // bound; go on below half of that. Observers are never paced: one must not slow the
  // consumer (past the bound they are closed).
  const auto pause_at = std::min<std::size_t>(context_.settings.max_queue_bytes / 4, 4 << 20);
  // Only a message in pieces pauses: a single message may be larger than any bound, and
  // reconnecting would bring it back as large. A backlog of whole messages is the bound's
  // business (the client resumes after its last ACK), so that a stalled consumer does not
  // stall its stream's observers.
  const bool behind = queued_bytes_ > pause_at && (paused_ || enqueued_open_message_ || open_transaction_);
  if (behind == paused_ || (!behind && queued_bytes_ > pause_at / 2)) return;
  paused_ = behind;
  if (paused_) last_progress_ = std::chrono::steady_clock::now();
  module_logger("websocket")->debug("{}: the consumer is {} ({} bytes waiting)", stream_,
                                    paused_ ? "behind, pausing the stream" : "caught up", queued_bytes_);
  proto::control_request hold;
  hold.op = proto::control_op::hold;
  hold.stream = stream_;
  hold.consumer = attach_.consumer;
  hold.pause = paused_;
  context_.link.call(hold, [](const proto::control_reply&) {});  // the lease renewal handles refusals
}

template class websocket_session<plain_stream>;
template class websocket_session<tls_stream>;

}  // namespace deltastream::gateway
