// deltastream-tail: a stream's messages on stdout, one JSON line each, from the reader's
// ZeroMQ sockets (what kcat is to Kafka and pg_recvlogical to PostgreSQL).
#include <csignal>
#include <atomic>
#include <iostream>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "proto/tail.hpp"

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  using deltastream::proto::tail_exit;
  try {
    const auto options = deltastream::proto::parse_tail_options(argc, argv);
    deltastream::setup_logging(options.log_level);
    std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is an EPIPE we handle
    // Without SA_RESTART: a write blocked on a full pipe returns EINTR, so a stop is seen.
    struct sigaction stop = {};
    stop.sa_handler = on_signal;
    sigemptyset(&stop.sa_mask);
    sigaction(SIGINT, &stop, nullptr);
    sigaction(SIGTERM, &stop, nullptr);
    return static_cast<int>(deltastream::proto::run_tail(options, stop_requested));
  } catch (const deltastream::config_error& error) {
    std::cerr << "deltastream-tail: " << error.what() << " (see --help)\n";
    return static_cast<int>(tail_exit::usage);
  } catch (const std::exception& error) {
    std::cerr << "deltastream-tail: " << error.what() << '\n';
    return static_cast<int>(tail_exit::refused);
  }
}
