// The gateway's link to the reader over inproc:// (in memory: no network, no reader):
// its back pressure bound and its batched hand-over to the I/O thread.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>

#include "gateway/reader_link.hpp"

using namespace deltastream;
using namespace deltastream::gateway;

namespace {

constexpr std::size_t payload_bytes = 1000;
constexpr std::size_t frame_cost = payload_bytes + 64;  // what the link counts per frame

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

TEST_CASE("reader_link: bytes in flight stay within the bound while the I/O thread is busy, "
          "and then every frame arrives, in order") {
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
  settings.control_endpoint = "inproc://link-test-control";
  settings.publish_endpoint = "inproc://link-test-data";
  settings.max_inflight_bytes = 10 * frame_cost;
  std::vector<std::uint64_t> seqs;
  reader_link link(io, context, settings,
                   [&](const std::string& stream, const proto::frame_header& header,
                       std::shared_ptr<const std::string> payload) {
                     CHECK(stream == "delta_link_test");
                     CHECK(payload->size() == payload_bytes);
                     seqs.push_back(header.seq);
                   });
  link.start();
  zmq::message_t subscription;  // the link subscribed: frames from now on reach it
  REQUIRE(data.recv(subscription));

  constexpr std::uint64_t frames = 200;
  for (std::uint64_t seq = 1; seq <= frames; ++seq) REQUIRE(publish(data, seq));
  // The I/O thread is not running: the link reads up to its bound and stops there.
  const auto settle = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (link.inflight_bytes() < settings.max_inflight_bytes &&
         std::chrono::steady_clock::now() < settle) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // time to overshoot, if it would
  CHECK(link.inflight_bytes() >= settings.max_inflight_bytes);
  CHECK(link.inflight_bytes() <= settings.max_inflight_bytes + frame_cost);
  CHECK(seqs.empty());

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seqs.size() < frames && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
  }
  link.stop();
  REQUIRE(seqs.size() == frames);
  for (std::uint64_t i = 0; i < frames; ++i) CHECK(seqs[i] == i + 1);
  CHECK(link.inflight_bytes() == 0);
}
