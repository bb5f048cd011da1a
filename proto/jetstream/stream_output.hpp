#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "proto/jetstream/async_publisher.hpp"
#include "proto/jetstream/jetstream_options.hpp"
#include "proto/jetstream/message_mapper.hpp"
#include "proto/jetstream/publish_ledger.hpp"
#include "proto/subscriber.hpp"

namespace deltastream::jetstream {

// Why a stream's output ended: stopped, or another consumer took the stream (the others go on).
enum class output_end { stopped, other_consumer };

// Follows one deltastream stream as its consumer and publishes every change into
// JetStream, ACKing the reader a transaction only once JetStream stored all its messages
// and those of every transaction before. Anything that breaks the chain (a refusal, no
// answer within the ack timeout, a message JetStream cannot take, a re-attach) drops
// what is in flight and starts again from the last ACK: the reader sends it again, and
// JetStream drops the messages it already stored by their ids.
class stream_output {
 public:
  stream_output(zmq::context_t& context, nats_connection& nats, const jetstream_options& options, std::string stream);

  // Until `stop`, or the stream ends for good. Never throws.
  output_end run(const std::atomic<bool>& stop);

 private:
  void follow(const std::atomic<bool>& stop);
  void take(proto::subscriber& source, proto::subscriber::message& message, const std::atomic<bool>& stop);
  // False when a stop came while JetStream had no room for it: it was not sent.
  bool send(proto::subscriber& source, const outgoing_message& message, const std::atomic<bool>& stop);
  void acknowledge(proto::subscriber& source, bool now);
  void start_epoch(std::uint64_t epoch);

  zmq::context_t& context_;
  nats_connection& nats_;
  const jetstream_options& options_;
  const std::string stream_;
  message_mapper mapper_;
  publish_ledger ledger_;
  std::unique_ptr<async_publisher> publisher_;
  std::optional<std::uint64_t> epoch_;
  std::vector<outgoing_message> batch_;
  std::optional<ack_point> unsent_ack_;  // stored, not yet ACKed (ACKs go at most every 100 ms)
  std::chrono::steady_clock::time_point acked_at_;
};

}  // namespace deltastream::jetstream
