#include "tests/integration/jetstream_read_session.hpp"

#include <iostream>
#include <string_view>
#include <thread>

namespace deltastream::jetstream_read {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds retry_pause{100};

void check(natsStatus status, const char* what) {
  if (status != NATS_OK) {
    throw tool_error(tool_exit::failure, std::string(what) + ": " + nats_failure::last(status, {}).text);
  }
}

std::string connected_url(natsConnection* connection) {
  char url[256] = {};
  natsConnection_GetConnectedUrl(connection, url, sizeof url);
  return url;
}

// Where the client went is what a reader of a failed test's stderr needs first.
void on_disconnected(natsConnection* connection, void*) {
  if (!natsConnection_IsClosed(connection)) std::cerr << "jetstream-read: disconnected\n";  // not our own close
}
void on_reconnected(natsConnection* connection, void*) {
  std::cerr << "jetstream-read: reconnected to " << connected_url(connection) << '\n';
}
void on_async_error(natsConnection*, natsSubscription*, natsStatus status, void*) {
  std::cerr << "jetstream-read: asynchronous error: " << natsStatus_GetText(status) << '\n';
}

}  // namespace

nats_failure nats_failure::last(natsStatus status, jsErrCode code) {
  nats_failure failure{status, code, natsStatus_GetText(status)};
  // nats.c's text reads "(conn.c:2088): No server available for connection": the
  // source position goes, and a detail that only repeats the status is left out.
  std::string_view detail = nats_GetLastError(nullptr) != nullptr ? nats_GetLastError(nullptr) : "";
  if (const auto end = detail.find("): "); !detail.empty() && detail.front() == '(' && end != std::string_view::npos) {
    detail.remove_prefix(end + 3);
  }
  if (!detail.empty() && detail != failure.text) failure.text += ": " + std::string(detail);
  if (code != 0) failure.text += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  return failure;
}

bool nats_failure::transient() const {
  switch (code) {
    case JSClusterNoPeersErr:  // a replica's node is down or has not caught up yet
    case JSClusterNotAvailErr:
    case JSClusterNotLeaderErr:
    case JSStreamOfflineErr:
    case JSConsumerOfflineErr:
      return true;
    default:
      break;
  }
  switch (status) {
    case NATS_TIMEOUT:        // no leader to answer yet
    case NATS_NO_RESPONDERS:  // nobody subscribed to the API subject: no leader
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_NO_SERVER:
      return true;
    default:
      return false;
  }
}

void error_budget::succeeded() {
  if (failing_since_) {
    const auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - *failing_since_);
    std::cerr << "jetstream-read: recovered after " << lasted.count() << " ms of errors\n";
  }
  failing_since_.reset();
}

void error_budget::failed(std::string_view doing, const nats_failure& failure) {
  const auto now = clock::now();
  if (!failing_since_) {
    failing_since_ = now;
    std::cerr << "jetstream-read: " << doing << ": " << failure.text << "; retrying for up to "
              << limit_.count() << " ms\n";
  }
  if (now - *failing_since_ >= limit_) {
    throw tool_error(tool_exit::unreachable, std::string(doing) + ": still failing after " +
                                                 std::to_string(limit_.count()) + " ms: " + failure.text);
  }
}

std::optional<nats_failure> retry_transient(error_budget& budget, std::string_view doing,
                                            const std::function<natsStatus(jsErrCode*)>& attempt) {
  for (;;) {
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = attempt(&code);
    if (status == NATS_OK) {
      budget.succeeded();
      return std::nullopt;
    }
    auto failure = nats_failure::last(status, code);
    if (!failure.transient()) return failure;
    budget.failed(doing, failure);
    std::this_thread::sleep_for(retry_pause);
  }
}

nats_session::nats_session(const std::vector<std::string>& servers, error_budget& budget) {
  std::vector<const char*> urls;
  for (const auto& server : servers) urls.push_back(server.c_str());
  check(natsOptions_Create(&options_), "natsOptions_Create");
  check(natsOptions_SetServers(options_, urls.data(), static_cast<int>(urls.size())), "--servers");
  // In list order, not nats.c's shuffle: a test puts the node it will kill first.
  check(natsOptions_SetNoRandomize(options_, true), "natsOptions_SetNoRandomize");
  check(natsOptions_SetTimeout(options_, 2000), "natsOptions_SetTimeout");
  check(natsOptions_SetMaxReconnect(options_, -1), "natsOptions_SetMaxReconnect");
  check(natsOptions_SetReconnectWait(options_, retry_pause.count()), "natsOptions_SetReconnectWait");
  check(natsOptions_SetDisconnectedCB(options_, on_disconnected, nullptr), "natsOptions_SetDisconnectedCB");
  check(natsOptions_SetReconnectedCB(options_, on_reconnected, nullptr), "natsOptions_SetReconnectedCB");
  check(natsOptions_SetErrorHandler(options_, on_async_error, nullptr), "natsOptions_SetErrorHandler");
  // natsConnection_Connect tries each server of the list once: retried, a restarting
  // cluster gets the error budget's time to come back.
  const auto failure = retry_transient(budget, "connect", [&](jsErrCode*) {
    return natsConnection_Connect(&connection_, options_);
  });
  if (failure) throw tool_error(tool_exit::unreachable, "connect: " + failure->text);
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = api_wait.count();
  check(natsConnection_JetStream(&js_, connection_, &js_options), "natsConnection_JetStream");
}

nats_session::~nats_session() {
  jsCtx_Destroy(js_);
  natsConnection_Destroy(connection_);  // closes it, nats.c flushing what is buffered
  natsOptions_Destroy(options_);
}

}  // namespace deltastream::jetstream_read
