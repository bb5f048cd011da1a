#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nats/nats.h>

#include "tests/integration/jetstream_read_options.hpp"

namespace deltastream::jetstream_read {

// Ends the program with `code`; main() prints the message.
struct tool_error : std::runtime_error {
  tool_error(tool_exit code, const std::string& what) : std::runtime_error(what), code(code) {}
  tool_exit code;
};

// One failed nats.c call: its status, JetStream error code (0 if none) and nats.c's text.
struct nats_failure {
  natsStatus status = NATS_OK;
  jsErrCode code = static_cast<jsErrCode>(0);
  std::string text;

  // Captures nats.c's last error text of this thread: call right after the failed call.
  static nats_failure last(natsStatus status, jsErrCode code);
  // Would succeed once the cluster has a leader again, or the client has reconnected.
  bool transient() const;
};

// How long NATS may keep failing without a success in between: a node kill costs a
// leader election (seconds), which must not end a test's read or publish early.
class error_budget {
 public:
  explicit error_budget(std::chrono::milliseconds limit) : limit_(limit) {}
  void succeeded();
  // Notes a transient failure (stderr, first of a run); throws tool_error(unreachable)
  // once failures have lasted the whole budget.
  void failed(std::string_view doing, const nats_failure& failure);

 private:
  std::chrono::milliseconds limit_;
  std::optional<std::chrono::steady_clock::time_point> failing_since_;
};

// Calls `attempt` until it succeeds (nullopt), fails for good (that failure), or
// transient failures exhaust the budget (throws). `attempt` sets the JetStream code.
std::optional<nats_failure> retry_transient(error_budget& budget, std::string_view doing,
                                            const std::function<natsStatus(jsErrCode*)>& attempt);

// A connection to whichever of the servers answers, reconnecting to the others forever
// (the error budget, not nats.c, decides when to give up), and its JetStream context.
class nats_session {
 public:
  nats_session(const std::vector<std::string>& servers, error_budget& budget);
  ~nats_session();
  nats_session(const nats_session&) = delete;
  nats_session& operator=(const nats_session&) = delete;

  natsConnection* connection() const { return connection_; }
  jsCtx* js() const { return js_; }

 private:
  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

// How long one JetStream API request (info, publish ack, ack) waits for its answer.
inline constexpr std::chrono::milliseconds api_wait{2000};

}  // namespace deltastream::jetstream_read
