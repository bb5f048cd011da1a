#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reader/slot_catalog.hpp"

namespace deltastream::reader {

// Drops slots without waiting in the loop: after the reader hangs up a stream's
// connection, its walsender takes a moment to exit, and until then PostgreSQL calls the
// slot active (SQLSTATE 55006). Such a drop is tried again every few milliseconds, up to a
// few seconds, and answered when it is done; a slot active for someone else is refused.
class slot_drops {
 public:
  using clock = std::chrono::steady_clock;
  using reply_function = std::function<void(std::uint64_t ticket, std::string reply)>;

  explicit slot_drops(slot_catalog& catalog) : catalog_(catalog) {}

  enum class owner { ours, anyone };  // ours: our own walsender may still hold it
  // The reply, or nullopt when it comes later from retry(). Errors throw pg_error.
  std::optional<std::string> drop(const std::string& stream, std::string id, std::uint64_t ticket, owner whose);
  void retry(clock::time_point now, const reply_function& reply);
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
  };
  std::optional<std::string> attempt(pending& drop);

  static constexpr std::chrono::seconds patience{5};
  static constexpr std::chrono::milliseconds retry_interval{20};

  slot_catalog& catalog_;
  std::vector<pending> pending_;
};

}  // namespace deltastream::reader
