#include "reader/sql_queue.hpp"

#include "common/logging.hpp"

namespace deltastream::reader {

sql_queue::sql_queue(std::string conninfo, std::chrono::milliseconds answer_timeout)
    : conninfo_(std::move(conninfo)), answer_timeout_(answer_timeout) {}

void sql_queue::run(std::string what, std::string sql, std::vector<std::string> params, callback done) {
  queue_.push_back({std::move(what), std::move(sql), std::move(params), std::move(done)});
}

zmq_pollitem_t sql_queue::poll_item() const {
  const bool polled = !queue_.empty() && waiting_ != wait_for::nothing && conn_;
  const short events = waiting_ == wait_for::readable ? ZMQ_POLLIN : ZMQ_POLLOUT;
  return {nullptr, polled ? PQsocket(conn_.get()) : -1, polled ? events : short{0}, 0};
}

sql_queue::clock::time_point sql_queue::next_deadline(clock::time_point deadline) const {
  if (queue_.empty()) return deadline;
  // A query not started yet starts on the next turn.
  return std::min(deadline, waiting_ == wait_for::nothing ? clock::time_point{} : deadline_);
}

void sql_queue::step(clock::time_point now, const zmq_pollitem_t& result) {
  if (queue_.empty()) return;
  if (waiting_ == wait_for::nothing || (result.revents & (result.events | ZMQ_POLLERR))) {
    try {
      drive(now);
    } catch (const pg_error& error) {
      // The connection failed. One that had answered before may have died since (a
      // restarted PostgreSQL): the query goes again on a new one, once.
      const bool retry = used_ && !resent_;
      close();
      if (retry) {
        module_logger("control")->info("SQL connection lost ({}); reconnecting", error.what());
        resent_ = true;
        return;  // next turn
      }
      fail_all(error);
      return;
    }
  }
  if (!queue_.empty() && waiting_ != wait_for::nothing && now >= deadline_) {
    close();
    fail_all(pg_error("PostgreSQL did not answer within " + std::to_string(answer_timeout_.count() / 1000) +
                          " s (connect_timeout)",
                      "08006"));
  }
}

void sql_queue::drive(clock::time_point now) {
  while (!queue_.empty()) {
    if (const auto wait = advance(now)) {
      waiting_ = *wait;
      return;
    }
    sql_answer answer;
    try {
      PGresult* result = first_.release();
      // A command (DO) answers without rows; anything else must be a query's rows.
      const auto expected = result && PQresultStatus(result) == PGRES_COMMAND_OK ? PGRES_COMMAND_OK
                                                                                : PGRES_TUPLES_OK;
      answer.rows = pg_check(conn_.get(), result, expected, queue_.front().what);
    } catch (const pg_error& error) {  // the query's own error: the connection is fine
      answer.error = error;
    }
    used_ = true;
    finish_front(std::move(answer));
  }
}

std::optional<sql_queue::wait_for> sql_queue::advance(clock::time_point now) {
  if (!conn_) {
    conn_ = pg_connect_start(conninfo_, connection_kind::sql);
    deadline_ = now + answer_timeout_;
  }
  if (first_poll_) {  // wait for connect(2) to finish before the first PQconnectPoll
    first_poll_ = false;
    return wait_for::writable;
  }
  if (!connected_) {
    switch (PQconnectPoll(conn_.get())) {
      case PGRES_POLLING_READING: return wait_for::readable;
      case PGRES_POLLING_WRITING: return wait_for::writable;
      case PGRES_POLLING_FAILED:
        throw pg_error("cannot connect to PostgreSQL: " + pg_error_message(conn_.get()), "08006");
      default: break;  // PGRES_POLLING_OK
    }
    connected_ = true;
    if (PQsetnonblocking(conn_.get(), 1) != 0) {
      throw pg_error("cannot make the SQL connection non-blocking: " + pg_error_message(conn_.get()), "");
    }
  }
  if (!sent_) {
    const auto& next = queue_.front();
    std::vector<const char*> values;
    for (const auto& value : next.params) values.push_back(value.c_str());
    if (!PQsendQueryParams(conn_.get(), next.sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0)) {
      throw pg_error("cannot send a query: " + pg_error_message(conn_.get()), "08006");
    }
    sent_ = true;
    deadline_ = now + answer_timeout_;
  }
  const int unsent = PQflush(conn_.get());
  if (unsent < 0) throw pg_error("cannot send to PostgreSQL: " + pg_error_message(conn_.get()), "08006");
  if (unsent == 1) return wait_for::writable;
  if (!PQconsumeInput(conn_.get())) {
    throw pg_error("SQL connection lost: " + pg_error_message(conn_.get()), "08006");
  }
  // Every result up to the end of the command (PQgetResult's null), without waiting:
  // PQgetResult blocks while the connection is busy.
  while (!PQisBusy(conn_.get())) {
    pg_result result{PQgetResult(conn_.get())};
    if (!result) return std::nullopt;
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      throw pg_error("SQL connection lost: " + pg_error_message(conn_.get()), "08006");
    }
    if (!first_) first_ = std::move(result);
  }
  return wait_for::readable;
}

void sql_queue::finish_front(sql_answer answer) {
  auto done = std::move(queue_.front().done);
  queue_.pop_front();
  sent_ = false;
  resent_ = false;
  first_.reset();
  waiting_ = wait_for::nothing;
  deadline_ = clock::time_point::max();
  done(std::move(answer));  // may queue more
}

void sql_queue::fail_all(const pg_error& error) {
  auto failed = std::move(queue_);
  queue_.clear();
  sent_ = false;
  resent_ = false;
  first_.reset();
  waiting_ = wait_for::nothing;
  deadline_ = clock::time_point::max();
  for (auto& query : failed) query.done({nullptr, error});
}

void sql_queue::close() {
  conn_.reset();
  first_poll_ = true;
  connected_ = false;
  used_ = false;
  sent_ = false;
  first_.reset();
  waiting_ = wait_for::nothing;
  deadline_ = clock::time_point::max();
}

}  // namespace deltastream::reader
