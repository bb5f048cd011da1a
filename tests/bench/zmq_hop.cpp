// The latency benchmark's second floor: one bare ZeroMQ hop, nothing else. A PUB sends a
// message at a fixed rate, each its CLOCK_REALTIME in nanoseconds as decimal text (the
// clock the consumers read), to a Python SUB like the one that follows the reader alone.
// deltastream's shape puts such a hop between the reader and the gateway, on top of the
// path pg_recvlogical takes, so this is what the machine charges for it before any of our
// code runs (the reader-alone side is this hop plus PostgreSQL and the reader).
//
//   deltastream-bench-hop ENDPOINT RATE SECONDS
//
// Binds an XPUB on ENDPOINT and waits for the first subscription, so that no message is
// sent before the subscriber can get it; message i is due at start + i / RATE; prints
// "sent N rate R".
#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

namespace {

using steady = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "deltastream-bench-hop: %s\n", what.c_str());
  std::exit(1);
}

std::string realtime_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return std::to_string(static_cast<long long>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) fail("usage: deltastream-bench-hop ENDPOINT RATE SECONDS");
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  if (rate <= 0 || seconds <= 0) fail("RATE and SECONDS must be positive");
  const auto total = static_cast<long>(rate * seconds);

  zmq::context_t context;
  zmq::socket_t publisher(context, zmq::socket_type::xpub);
  publisher.set(zmq::sockopt::linger, 1000);
  publisher.set(zmq::sockopt::rcvtimeo, 15000);
  publisher.bind(argv[1]);
  zmq::message_t subscription;
  if (!publisher.recv(subscription)) fail("no subscriber within 15 s");

  const auto start = steady::now();
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  for (long i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<steady::duration>(interval * i));
    publisher.send(zmq::buffer(realtime_ns()), zmq::send_flags::none);
  }
  const std::chrono::duration<double> elapsed = steady::now() - start;
  std::printf("sent %ld rate %.1f\n", total, total / std::max(elapsed.count(), 1e-9));
}
