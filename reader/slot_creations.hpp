#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.h>

#include "common/stream_name.hpp"
#include "reader/replication_connection.hpp"

namespace deltastream::reader {

// Slots being created, and the snapshots that created slots exported: CREATE_REPLICATION_SLOT
// ... EXPORT_SNAPSHOT waits for running transactions to finish, so it is driven from the
// loop, never waited for; and an exported snapshot stays importable only while the
// connection that created the slot stays idle, so that connection is held, until the
// snapshot is released, its slot dropped, or it was held for `hold`.
class slot_creations {
 public:
  using clock = std::chrono::steady_clock;
  using reply_function = std::function<void(std::uint64_t ticket, std::string reply)>;

  slot_creations(std::string conninfo, std::chrono::seconds hold, std::chrono::milliseconds answer_timeout);

  // Starts creating the slot with output plugin `plugin`; the reply (to `id`, by
  // `ticket`) comes from step(), after `finished` (if given) heard how it went: the
  // slot's consistent point, or nullopt when it was not created.
  using finished_function = std::function<void(std::optional<lsn> consistent_point)>;
  void create(const stream_name& name, const std::string& plugin, std::string id, std::uint64_t ticket,
              finished_function finished = nullptr);

  // Appends the sockets to poll; step() reads their results in the same order and
  // replies to the creations that finished (or failed, or timed out).
  void add_poll_items(std::vector<zmq_pollitem_t>& items) const;
  void step(clock::time_point now, const zmq_pollitem_t* results, const reply_function& reply);
  clock::time_point next_deadline(clock::time_point deadline) const;

  bool holds_snapshot(const std::string& stream) const { return snapshots_.contains(stream); }
  bool release(const std::string& stream);  // false when no snapshot is held
  void clear();

 private:
  void expire(clock::time_point now);

  const std::string conninfo_;
  const std::chrono::seconds hold_;
  const std::chrono::milliseconds answer_timeout_;

  struct creation {
    std::uint64_t ticket;
    std::string id;
    std::string name;
    std::string plugin;
    finished_function finished;
    std::unique_ptr<replication_connection> connection;
    replication_source::wait_for wait;
    clock::time_point deadline;
  };
  std::vector<creation> creating_;

  struct held_snapshot {
    std::unique_ptr<replication_connection> connection;
    clock::time_point expires;
  };
  std::map<std::string, held_snapshot> snapshots_;
};

}  // namespace deltastream::reader
