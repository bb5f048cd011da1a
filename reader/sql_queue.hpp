#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <zmq.h>

#include "common/errors.hpp"
#include "common/pg_connection.hpp"

namespace deltastream::reader {

// What a query came to: its rows, or why there are none.
struct sql_answer {
  pg_result rows;
  std::optional<pg_error> error;
};

// The reader's one SQL connection, never blocking the loop: queries wait in a queue and
// run one at a time (PQconnectStart/PQconnectPoll, PQsendQueryParams), always with
// parameters; each one's callback runs from step(), in the loop, with its answer.
// A connection that had died since its last use (PostgreSQL restarted) is opened again
// and the query sent once more: it is read-only or idempotent. PostgreSQL not answering
// within `answer_timeout` fails the query and every one queued behind it, which would
// wait as long: the next query opens a new connection.
class sql_queue {
 public:
  using clock = std::chrono::steady_clock;
  using callback = std::function<void(sql_answer)>;

  sql_queue(std::string conninfo, std::chrono::milliseconds answer_timeout);

  // `what` names the query in errors. A query (SELECT), or a command (DO) that is
  // idempotent: either may be sent again on a new connection.
  void run(std::string what, std::string sql, std::vector<std::string> params, callback done);
  bool idle() const { return queue_.empty(); }

  // Always one poll item (fd -1 when there is nothing to wait for); step() reads it.
  zmq_pollitem_t poll_item() const;
  void step(clock::time_point now, const zmq_pollitem_t& result);
  clock::time_point next_deadline(clock::time_point deadline) const;

 private:
  enum class wait_for { nothing, readable, writable };
  void drive(clock::time_point now);  // answers queries until one must wait; throws pg_error
  // Drives the front query: what to wait for, or nullopt once its answer is in first_.
  std::optional<wait_for> advance(clock::time_point now);
  void finish_front(sql_answer answer);
  void fail_all(const pg_error& error);
  void close();

  const std::string conninfo_;
  const std::chrono::milliseconds answer_timeout_;

  struct query {
    std::string what;
    std::string sql;
    std::vector<std::string> params;
    callback done;
  };
  std::deque<query> queue_;

  pg_conn conn_;
  pg_result first_;  // the front query's result, kept until the end of its command
  bool first_poll_ = true;
  bool connected_ = false;
  bool used_ = false;  // the connection answered a query before: it may have died since
  bool sent_ = false;  // the front query is on its way
  bool resent_ = false;
  wait_for waiting_ = wait_for::nothing;
  clock::time_point deadline_ = clock::time_point::max();
};

}  // namespace deltastream::reader
