#include <doctest/doctest.h>

#include <vector>

#include "gateway/stream_hub.hpp"

using namespace deltastream;
using namespace deltastream::gateway;
using proto::frame_header;
using proto::frame_kind;

namespace {

// Records what the hub does to a connection (the real one is a websocket_session).
struct recording_client : stream_client {
  stream_hub* hub = nullptr;
  std::string stream;
  std::vector<std::string> delivered;
  std::optional<close_code> ended;
  std::string reason;

  void deliver(std::shared_ptr<const std::string> payload, lsn) override {
    delivered.push_back(*payload);
  }
  void end(close_code code, std::string why) override {
    ended = code;
    reason = std::move(why);
    hub->remove(stream, this);  // as websocket_session does
  }
};

std::shared_ptr<const std::string> text(const char* value) {
  return std::make_shared<const std::string>(value);
}

frame_header data(std::uint64_t epoch, std::uint64_t seq) {
  return {frame_kind::data, epoch, seq, lsn(seq * 100), lsn(seq)};
}

}  // namespace

TEST_CASE("a consumer gets frames of its epoch in sequence, buffered while attaching") {
  stream_hub hub(1 << 20);
  recording_client consumer;
  consumer.hub = &hub;
  consumer.stream = "delta_a";
  hub.claim_consumer("delta_a", &consumer);
  hub.on_frame("delta_a", data(5, 9), text("old epoch"));
  hub.on_frame("delta_a", {frame_kind::heartbeat, 7, 0, {}, {}}, text(""));
  hub.on_frame("delta_a", data(7, 1), text("one"));
  CHECK(consumer.delivered.empty());  // not attached yet
  hub.consumer_attached("delta_a", &consumer, 7, 0);
  hub.on_frame("delta_a", data(7, 2), text("two"));
  hub.on_frame("delta_a", data(5, 10), text("late frame of an old epoch"));
  hub.on_frame("delta_a", {frame_kind::heartbeat, 7, 2, {}, {}}, text(""));
  CHECK(consumer.delivered == std::vector<std::string>{"one", "two"});
  CHECK_FALSE(consumer.ended);
}

TEST_CASE("a gap ends the consumer with a reason") {
  stream_hub hub(1 << 20);
  recording_client consumer;
  consumer.hub = &hub;
  consumer.stream = "delta_a";
  hub.claim_consumer("delta_a", &consumer);
  hub.consumer_attached("delta_a", &consumer, 7, 0);
  hub.on_frame("delta_a", data(7, 1), text("one"));
  hub.on_frame("delta_a", data(7, 3), text("three"));
  CHECK(consumer.ended == close_code::internal_error);
  CHECK(consumer.reason.find("expected seq 2, got 3") != std::string::npos);
  CHECK(consumer.delivered == std::vector<std::string>{"one"});
  CHECK(hub.consumers() == 0);
}

TEST_CASE("a lost tail shows in the heartbeat; a new epoch and stream_end end the consumer") {
  stream_hub hub(1 << 20);
  recording_client a, b, c;
  for (auto* client : {&a, &b, &c}) {
    client->hub = &hub;
    client->stream = "delta_a";
  }
  hub.claim_consumer("delta_a", &a);
  hub.consumer_attached("delta_a", &a, 7, 0);
  hub.on_frame("delta_a", {frame_kind::heartbeat, 7, 1, {}, {}}, text(""));
  CHECK(a.ended == close_code::internal_error);

  hub.claim_consumer("delta_a", &b);
  hub.consumer_attached("delta_a", &b, 7, 0);
  hub.on_frame("delta_a", data(8, 1), text("new epoch"));
  CHECK(b.ended == close_code::restarting);
  CHECK(b.delivered.empty());

  hub.claim_consumer("delta_a", &c);
  hub.consumer_attached("delta_a", &c, 8, 0);
  hub.on_frame("delta_a", {frame_kind::stream_end, 8, 0, {}, {}}, text("replication connection lost"));
  CHECK(c.ended == close_code::restarting);
  CHECK(c.reason.find("replication connection lost") != std::string::npos);
}

TEST_CASE("observers see live data; takeover ends the previous consumer") {
  stream_hub hub(1 << 20);
  recording_client first, second, observer;
  for (auto* client : {&first, &second, &observer}) {
    client->hub = &hub;
    client->stream = "delta_a";
  }
  hub.add_observer("delta_a", &observer);
  hub.claim_consumer("delta_a", &first);
  hub.consumer_attached("delta_a", &first, 3, 0);
  CHECK(hub.has_consumer("delta_a"));
  hub.on_frame("delta_a", data(3, 1), text("one"));
  hub.claim_consumer("delta_a", &second);
  CHECK(first.ended == close_code::policy);
  hub.consumer_attached("delta_a", &second, 4, 0);
  hub.on_frame("delta_a", data(4, 1), text("again"));
  CHECK(observer.delivered == std::vector<std::string>{"one", "again"});
  CHECK(second.delivered == std::vector<std::string>{"again"});
  CHECK(hub.observers() == 1);
  hub.end_all(close_code::going_away, "bye");
  CHECK(observer.ended == close_code::going_away);
  CHECK(second.ended == close_code::going_away);
}

TEST_CASE("too much while attaching ends the consumer instead of buffering without bound") {
  stream_hub hub(10);
  recording_client consumer;
  consumer.hub = &hub;
  consumer.stream = "delta_a";
  hub.claim_consumer("delta_a", &consumer);
  hub.on_frame("delta_a", data(1, 1), text("0123456789abc"));
  CHECK(consumer.ended == close_code::policy);
}

TEST_CASE("a silent stream ends its connections") {
  stream_hub hub(1 << 20);
  recording_client consumer, observer;
  for (auto* client : {&consumer, &observer}) client->hub = &hub;
  consumer.stream = observer.stream = "delta_a";
  hub.claim_consumer("delta_a", &consumer);
  hub.consumer_attached("delta_a", &consumer, 1, 0);
  hub.add_observer("delta_a", &observer);
  const auto now = std::chrono::steady_clock::now();
  hub.check_liveness(now, std::chrono::seconds(5));
  CHECK_FALSE(consumer.ended);
  hub.check_liveness(now + std::chrono::seconds(6), std::chrono::seconds(5));
  CHECK(consumer.ended == close_code::restarting);
  CHECK(observer.ended == close_code::restarting);
  CHECK(consumer.reason.find("no word from the reader") != std::string::npos);
  CHECK(hub.consumers() == 0);
}
