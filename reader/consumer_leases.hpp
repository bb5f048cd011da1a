#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace deltastream::reader {

// Which consumer holds each stream, whatever gateway it is connected to: a stream has at
// most one consumer. The holder renews its lease (the gateway does every second); a
// lease nobody renews expires, so a gateway that died does not lock its streams out.
class consumer_leases {
 public:
  using clock = std::chrono::steady_clock;

  static constexpr std::chrono::milliseconds lease_duration{5'000};

  struct refusal {
    std::string holder;
    // The lease ends in this much time unless its holder renews it: a claimant that
    // waits that long learns whether the holder is still there (a gateway that just
    // died cannot say so).
    std::chrono::milliseconds retry_after;
  };

  // Whether `consumer` may have the stream (it holds it, nobody does, or takeover);
  // otherwise who holds it. Changes nothing: grant() once the attach has succeeded, so
  // that a failed attach locks nobody out.
  std::optional<refusal> check(const std::string& stream, const std::string& consumer,
                               bool takeover, clock::time_point now) const;
  void grant(const std::string& stream, const std::string& consumer, clock::time_point now);
  // check() and grant() in one.
  std::optional<refusal> claim(const std::string& stream, const std::string& consumer,
                               bool takeover, clock::time_point now);
  // Who holds the stream now (a lapsed lease holds nothing).
  std::optional<std::string> holder(const std::string& stream, clock::time_point now) const;
  // Extends the holder's lease; false when `consumer` no longer holds the stream.
  bool renew(const std::string& stream, const std::string& consumer, clock::time_point now);
  // The consumer left: the stream is free at once (only if it still held it).
  void release(const std::string& stream, const std::string& consumer);
  void forget(const std::string& stream);  // the stream was dropped

 private:
  struct lease {
    std::string consumer;
    clock::time_point renewed;
  };
  std::map<std::string, lease> leases_;
};

}  // namespace deltastream::reader
