#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "proto/stream_end.hpp"
#include "proto/subscription.hpp"

using namespace deltastream;
using proto::frame_header;
using proto::frame_kind;
using proto::subscription;
using kind = proto::subscription::event_kind;

namespace {

std::shared_ptr<const std::string> bytes(std::string value) {
  return std::make_shared<const std::string>(std::move(value));
}

frame_header frame(frame_kind what, std::uint64_t epoch, std::uint64_t seq, std::uint64_t position = 0) {
  return {what, epoch, seq, lsn(position), lsn(0)};
}

auto none() { return bytes(""); }

}  // namespace

TEST_CASE("subscription: frames before the attach reply are kept, the ended epoch's tail passed over") {
  subscription frames;
  frames.attaching();
  CHECK(frames.is_attaching());
  CHECK_FALSE(frames.feed(frame(frame_kind::data, 7, 12, 100), bytes("old tail")));  // ended epoch 7
  CHECK_FALSE(frames.feed(frame(frame_kind::heartbeat, 8, 0), none()));
  CHECK_FALSE(frames.feed(frame(frame_kind::data, 8, 1, 200), bytes("first")));
  const auto events = frames.attached(8, 0, 7);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == kind::piece);
  CHECK(*events[0].payload == "first");
  CHECK(events[0].position == lsn(200));
  CHECK(events[0].epoch == 8);
  CHECK(frames.following());
  CHECK_FALSE(frames.feed(frame(frame_kind::stream_end, 7, 12), bytes(proto::encode_stream_end(
                                                                    proto::end_code::restarted, "x"))));
  CHECK(frames.feed(frame(frame_kind::data, 8, 2, 300), bytes("second"))->kind == kind::piece);
}

TEST_CASE("subscription: another epoch, higher or lower, and a stream_end are restarts") {
  for (const std::uint64_t other : {4u, 6u}) {
    subscription frames;
    frames.attaching();
    frames.attached(5, 3);
    const auto event = frames.feed(frame(frame_kind::heartbeat, other, 0), none());
    REQUIRE(event);
    CHECK(event->kind == kind::restart);
    CHECK_FALSE(frames.following());
    CHECK_FALSE(frames.feed(frame(frame_kind::data, 5, 4), bytes("ignored once idle")));
  }
  subscription frames;
  frames.attaching();
  frames.attached(5, 3);
  auto ended = frames.feed(frame(frame_kind::stream_end, 5, 3),
                           bytes(proto::encode_stream_end(proto::end_code::connection_lost, "PostgreSQL went away")));
  REQUIRE(ended);
  CHECK(ended->kind == kind::restart);
  CHECK(ended->reason.find("PostgreSQL went away") != std::string::npos);
  frames.attaching();
  frames.attached(6, 0);
  ended = frames.feed(frame(frame_kind::stream_end, 6, 0), bytes(proto::encode_stream_end(proto::end_code::dropped, "gone")));
  REQUIRE(ended);
  CHECK(ended->kind == kind::dropped);
}

TEST_CASE("subscription: a seq jump, or a heartbeat past the last seq, is a gap") {
  subscription frames;
  frames.attaching();
  frames.attached(1, 0);
  CHECK(frames.feed(frame(frame_kind::data_part, 1, 1), bytes("a"))->kind == kind::piece);
  CHECK_FALSE(frames.feed(frame(frame_kind::heartbeat, 1, 1), none()));  // nothing missing
  const auto gap = frames.feed(frame(frame_kind::data, 1, 3), bytes("c"));
  REQUIRE(gap);
  CHECK(gap->kind == kind::gap);
  CHECK(gap->reason == "expected seq 2, got 3");

  frames.attaching();
  frames.attached(2, 0);
  const auto lost_tail = frames.feed(frame(frame_kind::heartbeat, 2, 1), none());
  REQUIRE(lost_tail);
  CHECK(lost_tail->kind == kind::gap);
}

TEST_CASE("subscription: more than the bound before the attach reply overflows") {
  subscription frames(10);
  frames.attaching();
  CHECK_FALSE(frames.feed(frame(frame_kind::data, 1, 1), bytes("12345")));
  CHECK_FALSE(frames.feed(frame(frame_kind::data, 1, 2), bytes("67890")));
  const auto over = frames.feed(frame(frame_kind::data, 1, 3), bytes("x"));
  REQUIRE(over);
  CHECK(over->kind == kind::overflow);
  CHECK(frames.attached(1, 0).size() == 0);  // what was kept went with the overflow
}

TEST_CASE("subscription: a frame never seen (before attaching, or after an end) changes nothing") {
  subscription frames;
  CHECK_FALSE(frames.feed(frame(frame_kind::data, 1, 1), bytes("x")));
  frames.attaching();
  frames.attached(1, 0);
  frames.reset();
  CHECK_FALSE(frames.feed(frame(frame_kind::data, 1, 5), bytes("x")));
}

// A model of the reader: numbered messages, each sent from the last acknowledged one on in
// pieces of random sizes, with random frames lost in transit and random epoch changes. A
// consumer that follows the subscription's events and acknowledges each whole message
// gets every message exactly once, in order, byte for byte.
TEST_CASE("subscription: random splits, losses and restarts lose nothing and join every message") {
  for (unsigned seed = 1; seed <= 200; ++seed) {
    std::mt19937 random(seed);
    auto chance = [&](int percent) { return static_cast<int>(random() % 100) < percent; };
    std::vector<std::string> messages;
    for (int i = 0; i < 40; ++i) {
      messages.push_back("{\"n\":" + std::to_string(i) + ",\"pad\":\"" + std::string(random() % 50, 'x') + "\"}");
    }
    std::size_t acked = 0;  // messages processed and acknowledged
    std::vector<std::string> processed;
    subscription frames;
    proto::message_assembler joiner;
    std::uint64_t epoch = 100;
    int attaches = 0;
    while (acked < messages.size()) {
      REQUIRE(++attaches < 2000);
      // (Re-)attach: the reader starts a new epoch after the last ACK; its epoch clock may
      // step either way.
      epoch = chance(20) ? epoch - 1 - random() % 5 : epoch + 1 + random() % 5;
      frames.attaching();
      joiner.reset();
      std::vector<std::pair<frame_header, std::shared_ptr<const std::string>>> sent;
      std::uint64_t seq = 0;
      for (std::size_t m = acked; m < messages.size(); ++m) {
        const auto& whole = messages[m];
        std::size_t at = 0;
        while (at < whole.size()) {
          const std::size_t size = 1 + random() % 20;
          const bool last = at + size >= whole.size();
          sent.push_back({frame(last ? frame_kind::data : frame_kind::data_part, epoch, ++seq, m + 1),
                          bytes(whole.substr(at, size))});
          at += size;
        }
        if (chance(10)) sent.push_back({frame(frame_kind::heartbeat, epoch, seq), none()});
      }
      sent.push_back({frame(frame_kind::heartbeat, epoch, seq), none()});  // the idle heartbeat
      if (chance(5)) {
        sent.push_back({frame(frame_kind::stream_end, epoch, seq),
                        bytes(proto::encode_stream_end(proto::end_code::connection_lost, "lost"))});
      }
      bool reattach = false;
      auto handle = [&](subscription::event& event) {
        if (event.kind != kind::piece) {
          reattach = true;
          return;
        }
        CHECK(event.epoch == epoch);
        if (auto whole = joiner.add(event)) {
          REQUIRE(whole->position.value() == acked + 1);
          processed.push_back(std::move(whole->bytes));
          ++acked;
        }
      };
      std::size_t replied_after = random() % 3;  // the attach reply overtakes 0-2 frames
      for (std::size_t i = 0; i < sent.size() && !reattach; ++i) {
        if (i == replied_after) {
          for (auto& event : frames.attached(epoch, 0)) handle(event);
        }
        if (reattach || chance(3)) continue;  // lost in transit
        if (auto event = frames.feed(sent[i].first, sent[i].second)) handle(*event);
      }
      if (replied_after >= sent.size()) {
        for (auto& event : frames.attached(epoch, 0)) handle(event);
      }
      // A stream that went quiet: the next heartbeat would show a lost tail; a consumer
      // that saw everything simply stays.
    }
    REQUIRE(processed == messages);
  }
}

TEST_CASE("subscription: an observer starts with the first message whose beginning it saw") {
  SUBCASE("joined in the middle of a message: its rest is passed over") {
    subscription frames;
    frames.attaching(true);
    frames.attached(3, 5);  // seq 5 was published before this observer subscribed
    CHECK_FALSE(frames.feed(frame(frame_kind::data, 3, 6), bytes("rest of a message")));
    const auto next = frames.feed(frame(frame_kind::data, 3, 7), bytes("whole"));
    REQUIRE(next);
    CHECK(*next->payload == "whole");
  }
  SUBCASE("the frame before the reply's seq was seen, and ended a message") {
    subscription frames;
    frames.attaching(true);
    CHECK_FALSE(frames.feed(frame(frame_kind::data, 3, 5), bytes("before the reply")));
    CHECK_FALSE(frames.feed(frame(frame_kind::data_part, 3, 6), bytes("first ")));
    const auto events = frames.attached(3, 5);
    REQUIRE(events.size() == 1);
    CHECK(*events[0].payload == "first ");
    CHECK_FALSE(events[0].last);
  }
  SUBCASE("a new epoch begins with a message") {
    subscription frames;
    frames.attaching(true);
    frames.attached(4, 0);
    CHECK(frames.feed(frame(frame_kind::data, 4, 1), bytes("x"))->kind == kind::piece);
  }
}
