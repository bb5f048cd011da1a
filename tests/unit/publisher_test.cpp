// The reader's publisher over inproc:// (in memory): its byte budget refuses a payload
// that would pass --max-queued-bytes and takes payloads again as the subscriber reads.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <zmq_addon.hpp>

#include "reader/publisher.hpp"

using namespace deltastream;
using namespace deltastream::reader;

TEST_CASE("publisher: payloads queued for the subscribers are bounded in bytes, not only "
          "in messages, and the budget frees up as they are read") {
  zmq::context_t context;
  constexpr std::size_t budget = 100 << 10;
  const std::string payload(10 << 10, 'p');
  publisher out(context, "inproc://publisher-test", 10'000, budget, std::nullopt);
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect("inproc://publisher-test");
  proto::frame_header header{proto::frame_kind::data, 1, 0, lsn(1), lsn(1)};
  // publish() leaves the bytes of what it refuses, for the retry.
  auto offer = [&](std::string bytes) {
    const bool accepted = out.publish("delta_budget", header, bytes);
    if (!accepted) CHECK(bytes == payload);
    return accepted;
  };
  zmq::message_t notice;
  out.socket().set(zmq::sockopt::rcvtimeo, 5000);  // fail, not hang, if it never comes
  REQUIRE(out.socket().recv(notice));  // the subscription: sends from now on reach the SUB

  int accepted = 0;
  while (accepted < 100) {
    header.seq = static_cast<std::uint64_t>(accepted + 1);
    if (!offer(payload)) break;
    ++accepted;
  }
  CHECK(accepted == 10);  // 10 x 10 KiB fill 100 KiB; the 11th would pass it
  CHECK(out.queued_bytes() == 10 * payload.size());

  for (int i = 0; i < 3; ++i) {
    std::vector<zmq::message_t> parts;
    REQUIRE(zmq::recv_multipart(sub, std::back_inserter(parts)));
    REQUIRE(parts.size() == 3);
    CHECK(parts[2].to_string() == payload);
  }  // read and released: their bytes leave the budget
  CHECK(out.queued_bytes() == 7 * payload.size());
  CHECK(offer(payload));
  CHECK(offer(payload));
  CHECK(offer(payload));
  CHECK_FALSE(offer(payload));

  // A subscriber that leaves gives its queued messages back (once the XPUB has seen it
  // go), and a payload larger than the whole budget still goes when nothing else is
  // queued, or it could never go.
  sub.close();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (out.queued_bytes() > 0 && std::chrono::steady_clock::now() < deadline) {
    out.drain_subscriptions();  // lets the XPUB process the pipe's end
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(out.queued_bytes() == 0);
  std::string huge(budget * 2, 'b');
  CHECK(out.publish("delta_budget", header, huge));
}

TEST_CASE("publisher: the budget counts the memory a payload holds, its capacity, not its size") {
  zmq::context_t context;
  publisher out(context, "inproc://publisher-capacity", 10'000, 1 << 20, std::nullopt);
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect("inproc://publisher-capacity");
  zmq::message_t notice;
  out.socket().set(zmq::sockopt::rcvtimeo, 5000);
  REQUIRE(out.socket().recv(notice));  // subscribed: the message is queued, not dropped

  std::string grown;  // as a message assembled from chunks: room to spare
  grown.reserve(64 << 10);
  grown.assign(1 << 10, 'g');
  const std::size_t held = grown.capacity();
  REQUIRE(held >= (64u << 10));
  proto::frame_header header{proto::frame_kind::data, 1, 1, lsn(1), lsn(1)};
  REQUIRE(out.publish("delta_capacity", header, grown));
  CHECK(out.queued_bytes() == held);
}
