// deltastream-reader: the only process that holds replication connections.
#include <csignal>
#include <atomic>
#include <iostream>

#include <zmq.hpp>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "reader/reader_options.hpp"
#include "reader/reader_service.hpp"

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto options = deltastream::reader::parse_reader_options(argc, argv);
    deltastream::setup_logging(options.log_level);

    // Block the stop signals while ZeroMQ starts its threads, so that they inherit the
    // mask and the signal interrupts this thread's poll() instead of theirs.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    zmq::context_t context;
    std::unique_ptr<deltastream::reader::reader_service> service;
    try {
      service = std::make_unique<deltastream::reader::reader_service>(context, options);
    } catch (const zmq::error_t& error) {
      throw deltastream::config_error("--control/--publish: cannot bind (" +
                                      options.control_endpoint + ", " + options.publish_endpoint +
                                      "): " + error.what());
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);

    service->run(stop_requested);
    return 0;
  } catch (const deltastream::config_error& error) {
    std::cerr << "deltastream-reader: " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "deltastream-reader: fatal: " << error.what() << "\n";
    return 1;
  }
}
