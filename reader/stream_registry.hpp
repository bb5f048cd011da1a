#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <zmq.h>

#include "common/pg_connection.hpp"
#include "proto/control_message.hpp"
#include "reader/ack_journal.hpp"
#include "reader/consumer_leases.hpp"
#include "reader/publication_setup.hpp"
#include "reader/row_stream_setup.hpp"
#include "reader/slot_catalog.hpp"
#include "reader/slot_creations.hpp"
#include "reader/slot_drops.hpp"
#include "reader/slot_watch.hpp"
#include "reader/stream.hpp"

namespace deltastream::reader {

struct registry_settings {
  std::string conninfo;
  std::string ack_journal;  // the file of acknowledged positions; empty: none
  stream_settings streams;  // its connect factory is the registry's (a libpq connection)
  std::chrono::seconds snapshot_hold{300};
  std::string instance;  // random per process: lets peers notice a restarted reader
  slot_watch_settings watch;
  std::chrono::seconds watch_interval{5};
  std::string plugin = "wal2json";        // of slots created without "plugin"
  std::string publication = "deltastream";  // what pgoutput slots read (publication_setup)
};

// The reader's streams: carries out control requests (create, drop, list, attach,
// detach, ack, hold, unhold, release, status) and steps every attached stream, with the
// slot catalog (SQL), slot creations and snapshots, slot drops, consumer leases and the
// slot watch as its parts. A request that waits for PostgreSQL is answered later
// (reply_later), never waited for: the loop only ever waits in poll().
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
  std::optional<std::string> create(const proto::control_request& request, std::uint64_t ticket);
  std::optional<std::string> create_row_stream(const proto::control_request& request, std::uint64_t ticket);
  std::optional<std::string> drop(const proto::control_request& request, std::uint64_t ticket);
  std::optional<std::string> list(const proto::control_request& request, std::uint64_t ticket);
  std::string describe(const std::string& id, const std::vector<slot_catalog::slot>& slots) const;
  // Attaching (stream_attach.cpp): the slot checked, streaming started, then the lease granted.
  std::optional<std::string> attach(const proto::control_request& request, std::uint64_t ticket);
  std::optional<std::string> begin_attach(const proto::control_request& request, std::uint64_t ticket);
  void answer_attach(std::uint64_t ticket, const proto::control_request& request, std::string reply);
  void end_takeover(const proto::control_request& request);
  std::optional<std::string> start_attach(const proto::control_request& request, std::uint64_t ticket,
                                          slot_catalog::outcome<std::optional<slot_catalog::position>> found);
  std::optional<std::string> join(const proto::control_request& request, std::uint64_t ticket,
                                  const std::shared_ptr<stream>& current);
  std::string no_such_stream(const proto::control_request& request) const;
  std::string postgres_refusal(const std::string& id, std::string_view what, const pg_error& error) const;
  std::optional<std::string> lease_refusal(const proto::control_request& request);
  std::string grant_attach(const proto::control_request& request, const stream& current,
                           std::optional<std::uint64_t> ended_epoch);
  void finish_attaches();
  std::unique_ptr<change_decoder> make_decoder(const stream_name& name, const slot_catalog::position& slot);
  void resolve_types(std::vector<type_key> keys, stream_settings::type_answer answer);
  std::string detach(const proto::control_request& request);
  std::string ack(const proto::control_request& request);
  std::string release(const proto::control_request& request);
  std::optional<std::string> status(const proto::control_request& request, std::uint64_t ticket);
  std::string hold(const proto::control_request& request);
  std::string unhold(const proto::control_request& request);

  void apply_durable();
  void watch_slots();
  void review_slots(const std::vector<slot_catalog::slot>& listed);
  void remove_stream(std::map<std::string, std::shared_ptr<stream>>::iterator found,
                     proto::end_code code, const std::string& reason);

  const registry_settings& settings_;
  stream_settings stream_settings_;  // settings_.streams, connecting with settings_.conninfo
  message_sink& sink_;
  reply_function reply_later_;
  epoch_clock epochs_;
  end_outbox ends_;
  slot_catalog catalog_;
  publication_setup publications_;
  row_stream_setup row_streams_;
  // Row streams being created: a second create of one would take the first's
  // publication for a leftover and replace it.
  std::set<std::string> creating_rows_;
  type_names types_;  // every pgoutput stream's column types, asked once each
  slot_drops drops_;
  slot_creations creations_;
  std::map<std::string, std::shared_ptr<stream>> streams_;
  // Where each stream would have resumed (what was acknowledged), kept across detach and
  // re-attach: after a PostgreSQL crash the slot's confirmed_flush_lsn rewinds to its last
  // checkpoint, and starting from here instead delivers no acknowledged change again.
  std::map<std::string, lsn> reported_;
  // The same, on disk, for a reader restarted after a PostgreSQL crash (optional).
  std::unique_ptr<ack_journal> journal_;
  consumer_leases leases_;
  slot_watch watch_;
  clock::time_point next_watch_{};
  bool watching_ = false;  // a slot list for the watch is on its way

  // Attaches that wait for PostgreSQL to answer START_REPLICATION.
  struct pending_attach {
    std::uint64_t ticket;
    proto::control_request request;
    std::weak_ptr<stream> target;
    std::optional<std::uint64_t> ended_epoch;
    bool created;  // this attach started the stream: a failed start removes it
  };
  std::vector<pending_attach> attaches_;
  // Takeovers under way, stream -> consumer: until answered, another consumer's attach is
  // refused, or its restart would undo the takeover before it is granted (and the two
  // would take the stream from each other in turn).
  std::multimap<std::string, std::string> takeovers_;
};

}  // namespace deltastream::reader
