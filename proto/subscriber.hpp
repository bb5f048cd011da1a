#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include <zmq.hpp>

#include "proto/control_client.hpp"
#include "proto/subscription.hpp"

namespace deltastream::proto {

// Why following a stream cannot go on (a tool's exit code says which).
struct subscriber_error : std::runtime_error {
  enum class cause {
    unreachable,     // the reader did not answer
    gone,            // no such stream, or it was dropped
    other_consumer,  // another consumer holds the stream, or took it over
    refused,         // refused for another reason (the reader's message says which)
  };
  subscriber_error(cause why, const std::string& message) : std::runtime_error(message), why(why) {}
  cause why;
};

struct subscriber_settings {
  reader_endpoints reader;
  // A consumer (a name of its own) holds the stream's lease and may ACK; without a name
  // it observes: it claims nothing and sees what is live.
  std::string consumer;
  bool takeover = false;  // replace the stream's current consumer
  // No frame at all (not even a heartbeat) for this long: the reader stopped; re-attach.
  std::chrono::milliseconds silence_limit{10'000};
  // A reader that answered once and then nothing for this long is unreachable.
  std::chrono::milliseconds give_up_after{60'000};
  std::size_t max_attach_buffer_bytes = std::size_t{64} << 20;
  // Off: a large message comes as its pieces (`last` false but on the final one), so
  // that nothing holds it whole; a row stream's pieces are whole lines.
  bool join_pieces = true;
};

// Follows one stream over ZeroMQ as proto/PROTOCOL.md says, for tools: subscribes,
// attaches (a consumer with `restart`, so it gets everything after its last ACK), renews
// the lease every second, checks every frame (proto::subscription), joins pieces, and
// re-attaches after a restart, a gap, a silent or restarted reader. Single-threaded:
// everything happens inside next().
class subscriber {
 public:
  using message = message_assembler::message;

  subscriber(zmq::context_t& context, subscriber_settings settings, std::string stream);

  // The next whole message within `timeout` (zero: only one already here), or nullopt.
  // Throws subscriber_error when the stream cannot be followed any more.
  std::optional<message> next(std::chrono::milliseconds timeout);
  // The message, and all before it, is processed: acknowledged without waiting for the
  // reply (a consumer only). One from an epoch that is over is refused by the reader,
  // and harmlessly: its messages come again.
  void ack(const message& processed);
  // For a caller that cannot take messages for a while (its own output is stalled):
  // answers calls and renews the lease without reading frames, which wait in ZeroMQ.
  void keep_alive();
  // Waits up to the call timeout for the replies to sent ACKs; gives the lease up.
  void leave();

  const std::string& stream() const { return stream_; }
  bool consumer() const { return !settings_.consumer.empty(); }

 private:
  using clock = std::chrono::steady_clock;
  enum class call_kind { status, attach, hold, ack, unhold };

  void send_attach();
  // A call about our stream, as our consumer; its reply comes through on_reply.
  void send(call_kind kind, control_request request);
  void remember(const std::string& id, call_kind kind);
  void on_hold_reply(const control_reply& reply);
  void on_reply(const control_reply& reply);
  void on_attach_reply(const control_reply& reply);
  void on_frame(std::vector<zmq::message_t>& parts);
  void act_on(subscription::event& event);
  void reattach(const std::string& why, clock::duration after = {});
  void tick(clock::time_point now);
  void poll_once(std::chrono::milliseconds timeout);

  const subscriber_settings settings_;
  const std::string stream_;
  const std::string marker_;
  control_client control_;
  zmq::socket_t sub_;
  subscription frames_;
  message_assembler joiner_;
  std::deque<message> ready_;

  struct sent_call {
    call_kind kind;
    clock::time_point sent;
    std::uint64_t attachment;  // which attach it was sent under
  };
  std::map<std::string, sent_call> pending_;  // by id
  std::optional<std::string> attach_id_;      // the attach in flight
  std::optional<clock::time_point> attach_due_;  // a re-attach waits until then
  bool conflict_retried_ = false;
  bool attached_once_ = false;
  bool reader_answered_ = false;  // ever
  std::uint64_t attachment_ = 0;  // attaches sent
  std::optional<clock::time_point> refused_since_;  // attaches refused by PostgreSQL since
  std::optional<clock::time_point> silent_since_;  // the reader's, while calls go unanswered
  clock::time_point last_frame_ = clock::now();
  clock::time_point last_hold_ = clock::now();
};

}  // namespace deltastream::proto
