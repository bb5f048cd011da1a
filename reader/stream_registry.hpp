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

#include "common/pg_connection.hpp"
#include "proto/control_message.hpp"
#include "reader/consumer_leases.hpp"
#include "reader/replication_connection.hpp"
#include "reader/slot_watch.hpp"
#include "reader/stream.hpp"

namespace deltastream::reader {

struct registry_settings {
  std::string conninfo;
  stream_settings streams;  // its connect factory is the registry's (a libpq connection)
  std::chrono::seconds snapshot_hold{300};
  std::string instance;  // random per process: lets peers notice a restarted reader
  slot_watch_settings watch;
  std::chrono::seconds watch_interval{5};
};

// The reader's streams and slots: carries out control requests (create, drop, list,
// attach, detach, ack, release, status) and steps every attached stream. Owns the
// replication connections, the connections that hold exported snapshots, and one
// ordinary SQL connection for catalog queries (always parameterised).
class stream_registry {
 public:
  using reply_function = std::function<void(std::uint64_t ticket, std::string reply)>;

  stream_registry(const registry_settings& settings, message_sink& sink, reply_function reply_later);
  ~stream_registry();

  // Returns the reply, or nullopt when it will come later through reply_later (create
  // waits for running transactions; the loop must not).
  std::optional<std::string> handle(const proto::control_request& request, std::uint64_t ticket);

  // Appends the sockets to poll, then step() reads the results in the same order.
  void add_poll_items(std::vector<zmq_pollitem_t>& items) const;
  void step(clock::time_point now, const zmq_pollitem_t* results);
  clock::time_point next_deadline(clock::time_point now) const;
  bool has_pending_output() const;  // some stream waits for subscribers to drain

  void stop_all(const std::string& reason);

 private:
  std::optional<std::string> dispatch(const proto::control_request& request, std::uint64_t ticket);
  std::string create(const proto::control_request& request, std::uint64_t ticket);
  std::optional<std::string> drop(const proto::control_request& request, std::uint64_t ticket);
  std::string list(const proto::control_request& request);
  std::optional<std::string> attach(const proto::control_request& request, std::uint64_t ticket);
  std::optional<std::string> lease_refusal(const proto::control_request& request);
  std::string grant_attach(const proto::control_request& request, const stream& current,
                           std::optional<std::uint64_t> ended_epoch);
  void finish_attaches();
  std::string detach(const proto::control_request& request);
  std::string ack(const proto::control_request& request);
  std::string release(const proto::control_request& request);
  std::string status(const proto::control_request& request);
  std::string hold(const proto::control_request& request);
  std::string unhold(const proto::control_request& request);

  void finish_creates(const zmq_pollitem_t* results);
  void expire_snapshots(clock::time_point now);
  void watch_slots(clock::time_point now);
  std::optional<lsn> committed_position(const stream_name& name);
  void remove_stream(std::map<std::string, std::shared_ptr<stream>>::iterator found,
                     proto::end_code code, const std::string& reason);
  PGconn* sql();
  // Drops the SQL connection if it is broken; true if it was.
  bool forget_broken_sql();

  const registry_settings& settings_;
  stream_settings stream_settings_;  // settings_.streams, connecting with settings_.conninfo
  message_sink& sink_;
  reply_function reply_later_;
  epoch_clock epochs_;
  end_outbox ends_;
  pg_conn sql_;
  std::map<std::string, std::shared_ptr<stream>> streams_;
  // The flush position each stream last reported, kept across detach and re-attach:
  // after a PostgreSQL crash the slot's confirmed_flush_lsn rewinds to its last
  // checkpoint, and starting from here instead spares the consumer those duplicates.
  std::map<std::string, lsn> reported_;
  consumer_leases leases_;
  slot_watch watch_;
  clock::time_point next_watch_{};

  // An exported snapshot lives while the connection that created the slot stays idle.
  struct snapshot_holder {
    std::unique_ptr<replication_connection> connection;
    clock::time_point expires;
  };
  std::map<std::string, snapshot_holder> snapshots_;

  struct pending_create {
    std::uint64_t ticket;
    std::string id;
    std::string name;
    std::unique_ptr<replication_connection> connection;
    replication_source::wait_for wait = replication_source::wait_for::writable;
    clock::time_point deadline;
  };
  std::vector<pending_create> creates_;

  // Attaches that wait for PostgreSQL to answer START_REPLICATION.
  struct pending_attach {
    std::uint64_t ticket;
    proto::control_request request;
    std::weak_ptr<stream> target;
    std::optional<std::uint64_t> ended_epoch;
    bool created;  // this attach started the stream: a failed start removes it
  };
  std::vector<pending_attach> attaches_;

  // Drops that wait for our own walsender to exit (PostgreSQL calls the slot active).
  struct pending_drop {
    std::uint64_t ticket;
    std::string id;
    std::string stream;
    clock::time_point give_up;  // the epoch of the clock: not ours, refused at once
    clock::time_point next_try;
  };
  static constexpr std::chrono::seconds drop_patience{5};
  static constexpr std::chrono::milliseconds drop_retry_interval{20};
  std::optional<std::string> try_drop(pending_drop& drop);
  void retry_drops(clock::time_point now);
  std::vector<pending_drop> drops_;
};

}  // namespace deltastream::reader
