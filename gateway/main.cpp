// deltastream-gateway: pgdeltastream's HTTP/WebSocket API in front of deltastream-reader.
#include <sys/resource.h>

#include <csignal>
#include <iostream>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "gateway/gateway.hpp"
#include "gateway/gateway_options.hpp"

int main(int argc, char** argv) {
  try {
    const auto options = deltastream::gateway::parse_gateway_options(argc, argv);
    deltastream::setup_logging(options.log_level);
    // Every client is a file descriptor: take the hard limit, not the usual soft 1024.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      setrlimit(RLIMIT_NOFILE, &files);
    }
    // Signals are taken by the io_context's signal_set; keep them away from the other
    // threads (ZeroMQ's, the database pool) that start before it.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    deltastream::gateway::gateway gateway(options);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
    gateway.run();
    return 0;
  } catch (const deltastream::config_error& error) {
    std::cerr << "deltastream-gateway: " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "deltastream-gateway: fatal: " << error.what() << "\n";
    return 1;
  }
}
