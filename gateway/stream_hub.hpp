#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/lsn.hpp"
#include "proto/data_frame.hpp"
#include "proto/subscription.hpp"

namespace deltastream::gateway {

// WebSocket close codes the gateway uses (RFC 6455 section 7.4.1).
enum class close_code : std::uint16_t {
  normal = 1000,          // the stream was dropped: its slot no longer exists
  going_away = 1001,      // the gateway is shutting down
  policy = 1008,          // too slow (send queue over its limit), or taken over
  too_big = 1009,         // a client message over --max-frame-bytes
  internal_error = 1011,  // a gap between reader and gateway: changes were lost in transit
  restarting = 1012,      // the reader restarted the stream: resume from your last ACK
};

// The end of every close reason that asks the client to come back.
inline constexpr const char* resume_hint = "; reconnect to resume after your last ACK";

// What the hub needs of a connection: deliver a change, or end it with a reason.
class stream_client {
 public:
  virtual ~stream_client() = default;
  // A message, or a piece of one (a large transaction comes in pieces): the client
  // sends pieces as one WebSocket message and may count `position` as delivered only
  // with the last piece.
  virtual void deliver(std::shared_ptr<const std::string> piece, lsn position,
                       bool last_piece) = 0;
  virtual void end(close_code code, std::string reason) = 0;
};

// Fan-out from the reader's frames to the gateway's connections, per stream: at most
// one consumer, any number of observers. The consumer's frames are checked: same
// epoch, sequence without gaps; anything else ends it so that it resumes from its ACK.
// Runs on the I/O thread only; clients are raw pointers that remove themselves.
class stream_hub {
 public:
  explicit stream_hub(std::size_t max_attach_buffer_bytes);

  bool has_consumer(const std::string& stream) const;
  // The client becomes the stream's consumer, attaching: frames are buffered until
  // consumer_attached() names the epoch. A previous consumer is ended (taken over).
  void claim_consumer(const std::string& stream, stream_client* client);
  // The reader answered the attach: deliver what was buffered for this epoch. Frames of
  // `ended_epoch` (the one the attach restarted, whose tail may still be on its way) are
  // passed over; any other epoch than `epoch` is a restart, whatever its value.
  void consumer_attached(const std::string& stream, stream_client* client, std::uint64_t epoch,
                         std::uint64_t seq, std::optional<std::uint64_t> ended_epoch = std::nullopt);
  void add_observer(const std::string& stream, stream_client* client);
  void remove(const std::string& stream, stream_client* client);

  void on_frame(const std::string& stream, const proto::frame_header& header,
                const std::shared_ptr<const std::string>& payload);

  // Ends the connections of every stream that has been silent (no frame, not even a
  // heartbeat) for longer than `limit`: the reader stopped or restarted, and nobody
  // would tell them otherwise. Call it periodically.
  void check_liveness(std::chrono::steady_clock::time_point now, std::chrono::milliseconds limit);

  // Ends every connection (shutdown).
  void end_all(close_code code, const std::string& reason);

  std::size_t consumers() const;
  std::size_t observers() const;

  // What /metrics shows per stream: counters since the gateway started, and the
  // connections open now.
  struct stream_stats {
    std::uint64_t messages = 0;  // deliveries to clients (a message to two clients: 2)
    std::uint64_t received = 0;  // messages from the reader while anyone here listened (v2: events)
    std::uint64_t bytes = 0;
    std::map<std::uint16_t, std::uint64_t> disconnects;  // by close code we sent
    std::size_t consumers = 0;
    std::size_t observers = 0;
  };
  std::map<std::string, stream_stats> stats() const;
  // The stream's slot is gone: its connections end for good (1000, no resume hint), and
  // its counters go, so that /metrics does not grow with every /v1/init.
  void drop(const std::string& stream);
  // A connection of `stream` was closed by the gateway with `code`.
  void count_disconnect(const std::string& stream, close_code code);

 private:
  struct consumer_state {
    stream_client* client = nullptr;
    proto::subscription frames;  // the protocol's checks (proto/subscription.hpp)
  };
  struct stream_entry {
    consumer_state consumer;
    std::vector<stream_client*> observers;
    // Observers that connected in the middle of a message: they start with the next.
    std::vector<stream_client*> joining;
    std::chrono::steady_clock::time_point last_frame = std::chrono::steady_clock::now();
  };

  // Where a stream's last piece of a still unfinished message was: its epoch and seq.
  struct open_message {
    std::uint64_t epoch = 0;
    std::uint64_t seq = 0;
  };
  std::optional<open_message> track_open_message(const std::string& stream,
                                                 const proto::frame_header& header);
  void deliver_to_observers(const std::string& stream, stream_entry& entry,
                            const proto::frame_header& header,
                            const std::shared_ptr<const std::string>& payload,
                            const std::optional<open_message>& before);
  void end_observers(const std::string& stream, stream_entry& entry, close_code code,
                     const std::string& reason);

  // Delivers a piece to the consumer, or ends it as the subscription's event says.
  void act_on(const std::string& stream, stream_entry& entry, proto::subscription::event& event);
  void end_consumer(const std::string& stream, stream_entry& entry, close_code code,
                    std::string reason);
  void forget_if_empty(const std::string& stream);

  void count_received(const std::string& stream, const proto::frame_header& header, const std::string& payload);
  void count_delivery(const std::string& stream, std::size_t bytes, std::size_t clients,
                      bool last_piece);

  const std::size_t max_attach_buffer_bytes_;
  std::map<std::string, stream_entry> streams_;
  std::map<std::string, stream_stats> counters_;  // outlive the streams' connections
  // Every stream whose message is in the middle, watched or not: an observer that
  // connects then must not start with the rest of it.
  std::map<std::string, open_message> open_messages_;
};

}  // namespace deltastream::gateway
