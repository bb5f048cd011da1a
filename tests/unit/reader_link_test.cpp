// The gateway's link to the reader over inproc:// (in memory: no network, no reader):
// frames are read on the I/O thread through ZMQ_FD, and none is missed.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "gateway/reader_link.hpp"

using namespace deltastream;
using namespace deltastream::gateway;

namespace {

constexpr std::size_t payload_bytes = 1000;

bool publish(zmq::socket_t& socket, std::uint64_t seq) {
  const proto::frame_header header{proto::frame_kind::data, 7, seq, lsn(seq), lsn(seq)};
  const auto topic = proto::topic_for("delta_link_test");
  const auto head = proto::encode_header(header);
  const std::string payload(payload_bytes, 'x');
  if (!socket.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    return false;
  }
  socket.send(zmq::buffer(head), zmq::send_flags::sndmore);
  socket.send(zmq::buffer(payload), zmq::send_flags::none);
  return true;
}

}  // namespace

TEST_CASE("reader_link: frames are read on the I/O thread as they come, burst after burst "
          "with the thread asleep in between, every one in order") {
  zmq::context_t context;
  zmq::socket_t data(context, zmq::socket_type::xpub);  // as reader/publisher.cpp
  data.set(zmq::sockopt::xpub_nodrop, 1);
  data.set(zmq::sockopt::linger, 0);
  data.bind("inproc://link-test-data");
  zmq::socket_t control(context, zmq::socket_type::router);  // never answers
  control.set(zmq::sockopt::linger, 0);
  control.bind("inproc://link-test-control");

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  link_settings settings;
  settings.control = "inproc://link-test-control";
  settings.publish = "inproc://link-test-data";
  std::thread::id io_thread;
  std::atomic<bool> on_io_thread{true};
  std::mutex mutex;
  std::vector<std::uint64_t> seqs;
  reader_link link(io, context, settings,
                   [&](const std::string& stream, const proto::frame_header& header,
                       std::shared_ptr<const std::string> payload) {
                     if (std::this_thread::get_id() != io_thread) on_io_thread = false;
                     std::lock_guard lock(mutex);
                     CHECK(stream == "delta_link_test");
                     CHECK(payload->size() == payload_bytes);
                     seqs.push_back(header.seq);
                   });
  std::thread runner([&] {
    io_thread = std::this_thread::get_id();
    boost::asio::post(io, [&] { link.start(); });  // as gateway::run: on the I/O thread
    io.run();
  });
  zmq::message_t subscription;  // the link subscribed: frames from now on reach it
  REQUIRE(data.recv(subscription));

  auto received = [&] {
    std::lock_guard lock(mutex);
    return seqs.size();
  };
  // Each burst finds the I/O thread waiting on ZMQ_FD: a missed wake-up would stall it.
  // The second is larger than one read pass, so the pass must hand over and resume.
  constexpr std::uint64_t bursts[] = {1, 300, 50, 1, 120};
  std::uint64_t seq = 0;
  std::size_t expected = 0;
  for (const auto burst : bursts) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (std::uint64_t i = 0; i < burst; ++i) REQUIRE(publish(data, ++seq));
    expected += burst;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (received() < expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    REQUIRE(received() == expected);
  }
  boost::asio::post(io, [&] {
    link.stop();
    work.reset();
  });
  runner.join();
  CHECK(on_io_thread);
  for (std::uint64_t i = 0; i < seq; ++i) CHECK(seqs[i] == i + 1);
}
