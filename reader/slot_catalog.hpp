#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/lsn.hpp"
#include "common/stream_name.hpp"
#include "reader/sql_queue.hpp"

namespace deltastream::reader {

// What the reader asks PostgreSQL's catalog about our slots (logical, wal2json or pgoutput, in this
// database, named delta_*), always with parameters, on its one SQL connection (a
// sql_queue): each question is answered later, through its callback, from the loop.
class slot_catalog {
 public:
  template <class T>
  struct outcome {
    std::optional<pg_error> error;  // PostgreSQL refused, or did not answer
    T value{};
  };
  template <class T>
  using answer_to = std::function<void(outcome<T>)>;

  slot_catalog(std::string conninfo, std::chrono::milliseconds answer_timeout)
      : sql_(std::move(conninfo), answer_timeout) {}

  struct slot {
    std::string name;
    std::string confirmed_flush_lsn;
    std::int64_t lag_bytes = 0;  // pg_current_wal_lsn() - confirmed_flush_lsn
    bool active = false;
    std::string plugin;
    // A row stream's (row_stream_spec.hpp): its publication's tables, a JSON array of
    // pg_publication_tables rows, and the publication's comment (where it began).
    std::string tables;
    std::string comment;
  };
  void list(answer_to<std::vector<slot>> done);
  struct position {
    lsn confirmed_flush;  // the slot's confirmed_flush_lsn
    lsn current_wal;      // pg_current_wal_lsn(): no acknowledged position can be past it
    std::string plugin;   // the slot's output plugin: which decoder streams it
    // Of `publication` and `publication`_keyed, those that exist (what pgoutput reads);
    // for a row stream, its own publication (the slot's name) if it exists.
    std::vector<std::string> publications;
  };
  // nullopt when there is no such slot of ours.
  void committed_position(const stream_name& name, const std::string& publication,
                          answer_to<std::optional<position>> done);
  // False when there is no such slot of ours. An active slot is an error (SQLSTATE 55006).
  // A row stream's publication goes with its slot, in the same transaction.
  void drop(const std::string& name, answer_to<bool> done);
  // SELECT 1: whether PostgreSQL answers.
  void reachable(std::function<void(bool)> done);

  sql_queue& queries() { return sql_; }
  const sql_queue& queries() const { return sql_; }

 private:
  sql_queue sql_;
};

}  // namespace deltastream::reader
