#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "common/curve_keys.hpp"
#include "proto/data_frame.hpp"
#include "reader/subscription_set.hpp"

namespace deltastream::reader {

// Where a stream delivers its frames. publish() returns false when the message could
// not be queued (the subscribers are full); the stream keeps it and stops reading. When
// it returns true it may have taken the payload's bytes (moved from it): a message of a
// large transaction is not copied on its way out.
class message_sink {
 public:
  virtual ~message_sink() = default;
  virtual bool publish(std::string_view stream, const proto::frame_header& header,
                       std::string& payload) = 0;
  // Whether what is published for `stream` now reaches a subscriber: ZeroMQ drops what a
  // subscriber has not subscribed to yet. With a `marker`, the subscriber that made the
  // subscription `<stream>\0<marker>` (which matches no frame) must be among them.
  virtual bool reaches(std::string_view stream, std::string_view marker) const = 0;
};

// The data channel: an XPUB socket (a PUB that also reports back pressure). With
// ZMQ_XPUB_NODROP a full subscriber makes sends fail with EAGAIN instead of dropping
// silently, so the reader stops reading the replication socket rather than losing or
// buffering without bound. ZeroMQ's high-water mark counts messages, and a message may
// be a 256 KiB piece: so payloads are also counted in bytes, from the send until ZeroMQ
// frees them (written out, or dropped), and publish() refuses past max_queued_bytes.
class publisher final : public message_sink {
 public:
  // With `curve`, a CURVE server (clients checked by the ZAP handler).
  publisher(zmq::context_t& context, const std::string& endpoint, int high_water_mark,
            std::size_t max_queued_bytes, const std::optional<curve_keypair>& curve);

  bool publish(std::string_view stream, const proto::frame_header& header,
               std::string& payload) override;
  bool reaches(std::string_view stream, std::string_view marker) const override;

  // Reads the subscription notices waiting on the XPUB; true if the subscriptions changed.
  bool drain_subscriptions();

  zmq::socket_t& socket() { return socket_; }
  std::string endpoint() const;  // the bound endpoint, with the real port for "tcp://*:0"
  std::size_t queued_bytes() const { return queued_bytes_->load(); }
  // Whether a message went out since the last call: a send may take in the wake-up meant
  // for the socket's ZMQ_FD, leaving subscription notices that only ZMQ_EVENTS shows.
  bool take_used() { return std::exchange(used_, false); }

 private:
  zmq::socket_t socket_;
  std::size_t max_queued_bytes_;
  bool used_ = false;
  subscription_set subscriptions_;
  // Shared with the payloads in flight: ZeroMQ's I/O thread frees them, maybe after
  // this publisher is gone.
  std::shared_ptr<std::atomic<std::size_t>> queued_bytes_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace deltastream::reader
