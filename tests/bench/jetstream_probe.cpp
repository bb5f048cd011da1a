// The JetStream benchmark's NATS client (tests/bench/jetstream.py runs it): in C++ with
// nats.c because Debian has no Python NATS package, and so that the consumer whose clock
// is read costs little of the 2 CPUs the pipeline is measured on.
//
//   deltastream-bench-js SERVERS follow STREAM SUBJECT
//     An ephemeral push consumer (no ACKs) of the messages of SUBJECT stored in STREAM from
//     now on. Prints "ready" once subscribed, then for each message one line: CLOCK_REALTIME
//     at its arrival minus the number after "sent": in its data (the paced writer's stamp
//     in a row event's "new", or the publish mode's), in nanoseconds. Ends on SIGTERM.
//   deltastream-bench-js SERVERS publish STREAM SUBJECT RATE SECONDS MARKER_SUBJECT
//     The bare hop: message i ({"sent":<CLOCK_REALTIME ns>}) published asynchronously into
//     STREAM at start + i / RATE, with a Nats-Msg-Id as deltastream-jetstream sends, between
//     two messages on MARKER_SUBJECT (as it sends a transaction's begin and commit on
//     ._tx: JetStream takes as many messages); waits for every answer, prints "sent N rate R".
//   deltastream-bench-js SERVERS flood STREAM SUBJECT COUNT BYTES
//     The bare drain: COUNT messages of BYTES bytes published the same way as fast as
//     JetStream takes them, at most 4,096 unanswered (deltastream-jetstream's default
//     --max-in-flight); waits for every answer, prints "sent N rate R".
//   deltastream-bench-js SERVERS info STREAM
//     Prints "messages N bytes B".
//
// SERVERS: nats://host:port,... (the first that answers).
#include <nats/nats.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int) { stop_requested = 1; }

[[noreturn]] void fail(const std::string& what, natsStatus status = NATS_OK, jsErrCode code = jsErrCode(0)) {
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  std::fprintf(stderr, "deltastream-bench-js: %s%s%s%s%s [JetStream error %d]\n", what.c_str(),
               status != NATS_OK ? ": " : "", status != NATS_OK ? natsStatus_GetText(status) : "",
               detail && *detail ? " " : "", detail ? detail : "", static_cast<int>(code));
  std::exit(1);
}

void check(natsStatus status, const std::string& what, jsErrCode code = jsErrCode(0)) {
  if (status != NATS_OK) fail(what, status, code);
}

long long realtime_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec;
}

// The number after the first "sent": of a message's data; -1 without one.
long long sent_ns(std::string_view data) {
  constexpr std::string_view key = "\"sent\":";
  const auto at = data.find(key);
  if (at == std::string_view::npos) return -1;
  const std::string digits(data.substr(at + key.size(), 24));  // NUL-terminated for strtoll
  return std::strtoll(digits.c_str(), nullptr, 10);
}

struct session {
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;

  explicit session(const std::string& servers) {
    std::vector<std::string> urls;
    for (std::size_t start = 0; start <= servers.size();) {
      const auto comma = std::min(servers.find(',', start), servers.size());
      if (comma > start) urls.push_back(servers.substr(start, comma - start));
      start = comma + 1;
    }
    std::vector<const char*> pointers;
    for (const auto& url : urls) pointers.push_back(url.c_str());
    check(natsOptions_Create(&options), "NATS options");
    check(natsOptions_SetServers(options, pointers.data(), static_cast<int>(pointers.size())), "SERVERS");
    check(natsConnection_Connect(&connection, options), "connecting to " + servers);
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.PublishAsync.MaxPending = 4096;
    js_options.PublishAsync.StallWait = 10'000;  // a stall is a wait, not a failure
    check(natsConnection_JetStream(&js, connection, &js_options), "JetStream context");
  }
  ~session() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(connection);
    natsOptions_Destroy(options);
  }
};

int follow(session& nats, const char* stream, const char* subject) {
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream;
  options.Config.DeliverPolicy = js_DeliverNew;
  options.Config.AckPolicy = js_AckNone;
  natsSubscription* subscription = nullptr;
  jsErrCode code = jsErrCode(0);
  check(js_SubscribeSync(&subscription, nats.js, subject, nullptr, &options, &code), "subscribing", code);
  std::printf("ready\n");
  std::fflush(stdout);
  while (!stop_requested) {
    natsMsg* message = nullptr;
    const auto status = natsSubscription_NextMsg(&message, subscription, 100);
    if (status == NATS_TIMEOUT) continue;
    check(status, "receiving");
    const auto now = realtime_ns();
    const auto sent = sent_ns({natsMsg_GetData(message), static_cast<std::size_t>(natsMsg_GetDataLength(message))});
    natsMsg_Destroy(message);
    if (sent < 0) continue;  // not a stamped row (the output's begin and commit go to ._tx)
    std::printf("%lld\n", now - sent);
    std::fflush(stdout);
  }
  natsSubscription_Destroy(subscription);  // the ephemeral consumer goes with the interest
  return 0;
}

// `rate` 0: as fast as JetStream answers. `bytes`: each message padded to about this size.
// `markers`: a subject for a begin before and a commit after each message, or null.
int publish(session& nats, const char* stream, const char* subject, long total, double rate, std::size_t bytes,
            const char* markers) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.ExpectStream = stream;
  long published = 0;
  const auto send = [&](const char* to, const std::string& data, long long start_ns) {
    const auto id = "bare:" + std::to_string(start_ns) + ":" + std::to_string(published++);
    natsMsg* message = nullptr;
    check(natsMsg_Create(&message, to, nullptr, data.data(), static_cast<int>(data.size())), "a message");
    check(natsMsgHeader_Set(message, "Nats-Msg-Id", id.c_str()), "a header");
    // Blocks while 4,096 are unanswered (nats.c's stall wait), which is the flood's pace.
    check(js_PublishMsgAsync(nats.js, &message, &options), "publishing");  // takes the message
  };
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  const auto start_ns = static_cast<long long>(start.tv_sec) * 1'000'000'000LL + start.tv_nsec;
  long sent = 0;
  for (; sent < total && !stop_requested; ++sent) {
    if (rate > 0) {
      const auto due = start_ns + static_cast<long long>(static_cast<double>(sent) * 1e9 / rate);
      const timespec until{static_cast<time_t>(due / 1'000'000'000LL), static_cast<long>(due % 1'000'000'000LL)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr);
    }
    auto data = "{\"sent\":" + std::to_string(realtime_ns());
    if (data.size() + 10 < bytes) data += ",\"pad\":\"" + std::string(bytes - data.size() - 10, 'x') + "\"";
    data += "}";
    if (markers) send(markers, "{\"op\":\"begin\"}", start_ns);
    send(subject, data, start_ns);
    if (markers) send(markers, "{\"op\":\"commit\"}", start_ns);
  }
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 30'000;
  check(js_PublishAsyncComplete(nats.js, &complete), "waiting for the answers");
  natsMsgList failed{};
  if (js_PublishAsyncGetPendingList(&failed, nats.js) == NATS_OK) {
    const int count = failed.Count;
    natsMsgList_Destroy(&failed);
    if (count > 0) fail(std::to_string(count) + " publishes unanswered");
  }
  timespec end{};
  clock_gettime(CLOCK_MONOTONIC, &end);
  const double elapsed = static_cast<double>(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
  std::printf("sent %ld rate %.1f\n", sent, static_cast<double>(sent) / elapsed);
  return 0;
}

int info(session& nats, const char* stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = jsErrCode(0);
  check(js_GetStreamInfo(&info, nats.js, stream, nullptr, &code), std::string("stream ") + stream, code);
  std::printf("messages %llu bytes %llu\n", static_cast<unsigned long long>(info->State.Msgs),
              static_cast<unsigned long long>(info->State.Bytes));
  jsStreamInfo_Destroy(info);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 2 ? argv[2] : "";
  const bool usage_ok = (mode == "follow" && argc == 5) || (mode == "publish" && argc == 8) ||
                        (mode == "flood" && argc == 7) || (mode == "info" && argc == 4);
  if (!usage_ok) {
    std::fprintf(stderr,
                 "usage: deltastream-bench-js SERVERS follow STREAM SUBJECT\n"
                 "       deltastream-bench-js SERVERS publish STREAM SUBJECT RATE SECONDS MARKER_SUBJECT\n"
                 "       deltastream-bench-js SERVERS flood STREAM SUBJECT COUNT BYTES\n"
                 "       deltastream-bench-js SERVERS info STREAM\n");
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  int result = 0;
  {
    session nats(argv[1]);
    if (mode == "follow") result = follow(nats, argv[3], argv[4]);
    if (mode == "publish") {
      const double rate = std::atof(argv[5]);
      if (rate <= 0) fail("RATE must be positive");
      result = publish(nats, argv[3], argv[4], static_cast<long>(rate * std::atof(argv[6])), rate, 0, argv[7]);
    }
    if (mode == "flood") {
      result = publish(nats, argv[3], argv[4], std::atol(argv[5]), 0, std::strtoul(argv[6], nullptr, 10), nullptr);
    }
    if (mode == "info") result = info(nats, argv[3]);
  }
  nats_Close();
  return result;
}
