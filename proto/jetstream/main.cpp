// deltastream-jetstream: publishes deltastream streams into NATS JetStream, acknowledging
// each transaction to the reader only once JetStream has stored all of it.
#include <csignal>
#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "proto/jetstream/jetstream_options.hpp"
#include "proto/jetstream/nats_connection.hpp"
#include "proto/jetstream/stream_output.hpp"

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  using namespace deltastream::jetstream;
  try {
    const auto options = parse_jetstream_options(argc, argv);
    deltastream::setup_logging(options.log_level);
    struct sigaction stop = {};
    stop.sa_handler = on_signal;
    sigemptyset(&stop.sa_mask);
    sigaction(SIGINT, &stop, nullptr);
    sigaction(SIGTERM, &stop, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    nats_connection nats(options.nats);
    ensure_stream(nats, options.stream, stop_requested);
    zmq::context_t context;
    std::vector<std::unique_ptr<stream_output>> outputs;
    for (const auto& stream : options.follow) {
      outputs.push_back(std::make_unique<stream_output>(context, nats, options, stream));
    }
    // One thread a stream: each waits on its own sockets and its own JetStream answers.
    std::vector<output_end> ends(outputs.size(), output_end::stopped);
    {
      std::vector<std::jthread> threads;
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        threads.emplace_back([&, i] { ends[i] = outputs[i]->run(stop_requested); });
      }
    }
    for (const auto end : ends) {
      if (end != output_end::stopped) return 3;  // a stream ended for good: its log line says why
    }
    return 0;
  } catch (const deltastream::config_error& error) {
    std::cerr << "deltastream-jetstream: " << error.what() << " (see --help)\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "deltastream-jetstream: " << error.what() << '\n';
    return 2;
  }
}
