// The latency benchmark's load: single-row transactions at a fixed rate, each row carrying
// CLOCK_REALTIME in nanoseconds taken just before its INSERT is sent (Python's
// time.time_ns(), the clock the consumers read). In C++ rather than Python because on a
// 2-core machine the load generator competes for the CPU with the walsender it measures:
// two Python writer processes took about 0.25 of a core at 5,000 transactions/s.
//
//   deltastream-bench-writer CONNINFO TABLE RATE SECONDS
//
// Transaction i is due at start + i / RATE. It goes on any idle connection (several, so
// that one slow commit does not hold up the schedule); prints "written N rate R".
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what, PGconn* conn = nullptr) {
  std::fprintf(stderr, "deltastream-bench-writer: %s%s%s\n", what.c_str(), conn ? ": " : "",
               conn ? PQerrorMessage(conn) : "");
  std::exit(1);
}

std::string realtime_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return std::to_string(static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec);
}

struct connection {
  PGconn* conn = nullptr;
  bool busy = false;
};

// Takes every finished result off a busy connection; true once it is idle again.
bool collect(connection& c) {
  if (!PQconsumeInput(c.conn)) fail("reading a result", c.conn);
  while (!PQisBusy(c.conn)) {
    PGresult* result = PQgetResult(c.conn);
    if (!result) {
      c.busy = false;
      return true;
    }
    if (PQresultStatus(result) != PGRES_COMMAND_OK) fail("INSERT failed", c.conn);
    PQclear(result);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) fail("usage: deltastream-bench-writer CONNINFO TABLE RATE SECONDS");
  const std::string table = argv[2];
  const double rate = std::atof(argv[3]);
  const double seconds = std::atof(argv[4]);
  if (rate <= 0 || seconds <= 0) fail("RATE and SECONDS must be positive");
  const auto total = static_cast<long>(rate * seconds);
  // One connection commits a few thousand single-row transactions a second here; two
  // more give a late commit room without delaying the next.
  const std::size_t count = static_cast<std::size_t>(rate / 2500) + 2;

  std::vector<connection> connections(count);
  for (auto& c : connections) {
    c.conn = PQconnectdb(argv[1]);
    if (PQstatus(c.conn) != CONNECTION_OK) fail("connecting", c.conn);
    char* quoted = PQescapeIdentifier(c.conn, table.data(), table.size());
    if (!quoted) fail("quoting the table name", c.conn);
    const std::string insert = std::string("INSERT INTO ") + quoted + " (sent) VALUES ($1::bigint)";
    PQfreemem(quoted);
    PGresult* prepared = PQprepare(c.conn, "ins", insert.c_str(), 1, nullptr);
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) fail("PREPARE", c.conn);
    PQclear(prepared);
    if (PQsetnonblocking(c.conn, 1) != 0) fail("non-blocking mode", c.conn);
  }

  std::vector<pollfd> fds(count);
  const auto start = steady::now();
  const auto due_of = [&](long transaction) {
    return start + std::chrono::duration_cast<steady::duration>(
                       std::chrono::duration<double>(static_cast<double>(transaction) / rate));
  };
  long sent = 0;
  while (sent < total || [&] {
           for (const auto& c : connections) if (c.busy) return true;
           return false;
         }()) {
    if (sent < total && steady::now() >= due_of(sent)) {
      for (auto& c : connections) {
        if (c.busy) continue;
        const std::string value = realtime_ns();
        const char* params[] = {value.c_str()};
        if (!PQsendQueryPrepared(c.conn, "ins", 1, params, nullptr, nullptr, 0)) fail("sending", c.conn);
        if (PQflush(c.conn) < 0) fail("sending", c.conn);
        c.busy = true;
        ++sent;
        break;
      }
      // Every connection busy: the transaction is late, and goes when one is free.
    }
    for (std::size_t i = 0; i < count; ++i) {
      fds[i] = {PQsocket(connections[i].conn), static_cast<short>(connections[i].busy ? POLLIN : 0), 0};
    }
    // ppoll: poll() sleeps in whole milliseconds, and 5,000/s is one every 200 µs.
    timespec pause{};
    const timespec* timeout = nullptr;  // nothing to send, or nowhere to send it: wait for results
    bool idle = false;
    for (const auto& c : connections) idle |= !c.busy;
    if (sent < total && idle) {
      const auto wait = std::max(steady::duration::zero(), due_of(sent) - steady::now());
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      pause = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      timeout = &pause;
    }
    if (ppoll(fds.data(), count, timeout, nullptr) < 0) fail("ppoll");
    for (std::size_t i = 0; i < count; ++i) {
      if (connections[i].busy && fds[i].revents) collect(connections[i]);
    }
  }
  const double elapsed = std::chrono::duration<double>(steady::now() - start).count();
  std::printf("written %ld rate %.1f\n", sent, static_cast<double>(sent) / elapsed);
  for (auto& c : connections) PQfinish(c.conn);
  return 0;
}
