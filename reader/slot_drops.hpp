#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "reader/slot_catalog.hpp"

namespace deltastream::reader {

// Drops slots without waiting in the loop: after the reader hangs up a stream's
// connection, its walsender takes a moment to exit, and until then PostgreSQL calls the
// slot active (SQLSTATE 55006). Such a drop is tried again every few milliseconds, up to a
// few seconds; a slot active for someone else is refused at once. Every drop is
// answered later, through `reply`, when PostgreSQL has.
class slot_drops {
 public:
  using clock = std::chrono::steady_clock;
  using reply_function = std::function<void(std::uint64_t ticket, std::string reply)>;

  slot_drops(slot_catalog& catalog, reply_function reply) : catalog_(catalog), reply_(std::move(reply)) {}

  enum class owner { ours, anyone };  // ours: our own walsender may still hold it
  void drop(const std::string& stream, std::string id, std::uint64_t ticket, owner whose);
  void retry(clock::time_point now);  // asks again for the drops due
  clock::time_point next_deadline(clock::time_point deadline) const;
  // A drop of `stream` is under way: to everyone else the stream is gone already.
  bool dropping(std::string_view stream) const;

 private:
  struct pending {
    std::uint64_t ticket;
    std::string id;
    std::string stream;
    clock::time_point give_up;
    clock::time_point next_try;
    bool asking = false;  // the query is queued or running
  };
  void ask(std::uint64_t key);
  void answer(std::uint64_t key, slot_catalog::outcome<bool> outcome);

  static constexpr std::chrono::seconds patience{5};
  static constexpr std::chrono::milliseconds retry_interval{20};

  slot_catalog& catalog_;
  reply_function reply_;
  std::map<std::uint64_t, pending> pending_;  // by a key of their own: tickets may repeat (0)
  std::uint64_t next_key_ = 0;
};

}  // namespace deltastream::reader
