#pragma once

#include <chrono>
#include <string>

#include <nats/nats.h>

#include "proto/jetstream/message_mapper.hpp"
#include "proto/jetstream/nats_connection.hpp"
#include "proto/jetstream/publish_ledger.hpp"

namespace deltastream::jetstream {

// Publishes to JetStream without waiting, at most `max_in_flight` unanswered, and reports
// every answer (stored, or refused, or none within `ack_timeout`) to the ledger by the
// message's transaction. One per stream and epoch: destroying it forgets what is in
// flight (answers that come later are dropped), which is how a stream starts over.
class async_publisher {
 public:
  async_publisher(nats_connection& connection, publish_ledger& ledger, const std::string& js_stream,
                  int max_in_flight, std::chrono::milliseconds ack_timeout);
  ~async_publisher();
  async_publisher(const async_publisher&) = delete;
  async_publisher& operator=(const async_publisher&) = delete;

  enum class result { sent, stalled };
  // `stalled`: max_in_flight are unanswered; try again (after a short wait inside).
  // Throws nats_failure when the message cannot be sent at all (too large, closed).
  result publish(const outgoing_message& message);
  // Waits up to `limit` for the answers to everything sent (they reach the ledger).
  void wait_for_answers(std::chrono::milliseconds limit);

 private:
  static void on_answer(jsCtx* js, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* closure);

  // What an answer needs. Never freed: nats.c might still answer through a context being
  // destroyed, and one a publisher is a few bytes.
  struct answer_route {
    publish_ledger* ledger;
    std::uint64_t generation;
  };

  publish_ledger& ledger_;
  answer_route* route_;
  const std::string js_stream_;
  const std::chrono::milliseconds ack_timeout_;
  jsCtx* js_ = nullptr;
};

}  // namespace deltastream::jetstream
