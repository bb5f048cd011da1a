#include <doctest/doctest.h>

#include <vector>

#include "gateway/stream_hub.hpp"
#include "proto/stream_end.hpp"

using namespace deltastream;
using namespace deltastream::gateway;
using proto::frame_header;
using proto::frame_kind;

namespace {

// Records what the hub does to a connection (the real one is a websocket_session).
struct recording_client : stream_client {
  recording_client() = default;
  recording_client(stream_hub& on, std::string of) : hub(&on), stream(std::move(of)) {}

  stream_hub* hub = nullptr;
  std::string stream;
  std::vector<std::string> delivered;  // whole messages, pieces joined
  std::string open_message;            // pieces of a message not yet complete
  std::optional<close_code> ended;
  std::string reason;

  void deliver(std::shared_ptr<const std::string> piece, lsn, bool last_piece) override {
    open_message += *piece;
    if (!last_piece) return;
    delivered.push_back(std::move(open_message));
    open_message.clear();
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

std::shared_ptr<const std::string> end_notice(proto::end_code code, const char* reason) {
  return std::make_shared<const std::string>(proto::encode_stream_end(code, reason));
}

frame_header data(std::uint64_t epoch, std::uint64_t seq) {
  return {frame_kind::data, epoch, seq, lsn(seq * 100), lsn(seq)};
}

// A leading piece of a large message (the reader's data_part frame).
frame_header part(std::uint64_t epoch, std::uint64_t seq) {
  return {frame_kind::data_part, epoch, seq, lsn(seq * 100), lsn(seq)};
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
  hub.consumer_attached("delta_a", &consumer, 7, 0, 5);  // the attach ended epoch 5
  hub.on_frame("delta_a", data(7, 2), text("two"));
  hub.on_frame("delta_a", data(5, 10), text("late frame of the epoch the attach ended"));
  hub.on_frame("delta_a", {frame_kind::stream_end, 5, 10, {}, {}},
               end_notice(proto::end_code::restarted, "restarted by attach"));
  hub.on_frame("delta_a", {frame_kind::heartbeat, 7, 2, {}, {}}, text(""));
  CHECK(consumer.delivered == std::vector<std::string>{"one", "two"});
  CHECK_FALSE(consumer.ended);
}

// A consumer whose queue overflows with a delivery ends itself, as websocket_session does.
struct overflowing_client : recording_client {
  using recording_client::recording_client;
  void deliver(std::shared_ptr<const std::string> piece, lsn position, bool last_piece) override {
    recording_client::deliver(std::move(piece), position, last_piece);
    end(close_code::policy, "too slow");
  }
};

TEST_CASE("a consumer that ends itself while its kept frames are delivered stops them there") {
  stream_hub hub(1 << 20);
  overflowing_client consumer(hub, "delta_a");
  hub.claim_consumer("delta_a", &consumer);
  hub.on_frame("delta_a", data(7, 1), text("one"));
  hub.on_frame("delta_a", data(7, 2), text("two"));
  hub.consumer_attached("delta_a", &consumer, 7, 0);  // the entry goes with the first delivery
  CHECK(consumer.delivered == std::vector<std::string>{"one"});
  CHECK(consumer.ended == close_code::policy);
  CHECK(hub.consumers() == 0);
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
  hub.on_frame("delta_a", {frame_kind::stream_end, 8, 0, {}, {}},
               end_notice(proto::end_code::connection_lost, "replication connection lost"));
  CHECK(c.ended == close_code::restarting);
  CHECK(c.reason.find("replication connection lost") != std::string::npos);
}

TEST_CASE("any epoch but the consumer's is a restart, a lower one too (the clock stepped back)") {
  stream_hub hub(1 << 20);
  recording_client consumer(hub, "delta_a");
  hub.claim_consumer("delta_a", &consumer);
  hub.consumer_attached("delta_a", &consumer, 1000, 0, 900);
  hub.on_frame("delta_a", data(1000, 1), text("one"));
  hub.on_frame("delta_a", {frame_kind::heartbeat, 500, 0, {}, {}}, text(""));
  CHECK(consumer.ended == close_code::restarting);
  CHECK(consumer.delivered == std::vector<std::string>{"one"});
}

TEST_CASE("a stream_end whose code is not 'dropped' is resumed, whatever its wording") {
  stream_hub hub(1 << 20);
  recording_client consumer(hub, "delta_a");
  hub.claim_consumer("delta_a", &consumer);
  hub.consumer_attached("delta_a", &consumer, 3, 0);
  hub.on_frame("delta_a", {frame_kind::stream_end, 3, 0, {}, {}},
               end_notice(proto::end_code::connection_lost, "stream dropped"));
  CHECK(consumer.ended == close_code::restarting);
  CHECK(consumer.reason.find("resume") != std::string::npos);
}

TEST_CASE("a dropped stream ends its consumer and observers for good, without a resume hint") {
  for (const char* reason : {"stream dropped", "replication slot \"delta_a\" does not exist"}) {
    CAPTURE(reason);
    stream_hub hub(1 << 20);
    recording_client consumer(hub, "delta_a"), observer(hub, "delta_a");
    hub.claim_consumer("delta_a", &consumer);
    hub.consumer_attached("delta_a", &consumer, 3, 0);
    hub.add_observer("delta_a", &observer);
    hub.on_frame("delta_a", {frame_kind::stream_end, 3, 0, {}, {}},
                 end_notice(proto::end_code::dropped, reason));
    for (auto* client : {&consumer, &observer}) {
      CHECK(client->ended == close_code::normal);
      CHECK(client->reason.find("dropped") != std::string::npos);
      CHECK(client->reason.find("resume") == std::string::npos);
    }
    CHECK_FALSE(hub.has_consumer("delta_a"));
    CHECK_FALSE(hub.stats().contains("delta_a"));  // its /metrics series go with it
  }
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

TEST_CASE("a consumer gets a large message's pieces as one message; a lost piece is a gap") {
  stream_hub hub(1 << 20);
  recording_client consumer(hub, "delta_a");
  hub.claim_consumer("delta_a", &consumer);
  hub.consumer_attached("delta_a", &consumer, 7, 0);
  hub.on_frame("delta_a", part(7, 1), text("{\"change\":["));
  hub.on_frame("delta_a", {frame_kind::heartbeat, 7, 1, {}, {}}, text(""));
  hub.on_frame("delta_a", part(7, 2), text("1,2"));
  CHECK(consumer.delivered.empty());
  hub.on_frame("delta_a", data(7, 3), text("]}"));
  hub.on_frame("delta_a", data(7, 4), text("small"));
  CHECK(consumer.delivered == std::vector<std::string>{"{\"change\":[1,2]}", "small"});
  hub.on_frame("delta_a", part(7, 5), text("{"));
  hub.on_frame("delta_a", data(7, 7), text("}"));
  CHECK(consumer.ended == close_code::internal_error);
  CHECK(hub.stats()["delta_a"].messages == 2);  // pieces are not messages
}

TEST_CASE("an observer that connects in the middle of a message starts with the next one") {
  stream_hub hub(1 << 20);
  recording_client early(hub, "delta_a"), late(hub, "delta_a");
  hub.add_observer("delta_a", &early);
  hub.on_frame("delta_a", part(2, 1), text("a"));
  hub.add_observer("delta_a", &late);
  CHECK(hub.observers() == 2);
  hub.on_frame("delta_a", part(2, 2), text("b"));
  hub.on_frame("delta_a", data(2, 3), text("c"));
  hub.on_frame("delta_a", data(2, 4), text("d"));
  CHECK(early.delivered == std::vector<std::string>{"abc", "d"});
  CHECK(late.delivered == std::vector<std::string>{"d"});
}

TEST_CASE("an unwatched stream's open message still holds a new observer back") {
  stream_hub hub(1 << 20);
  recording_client observer(hub, "delta_a");
  hub.on_frame("delta_a", part(2, 1), text("a"));  // nobody watches yet
  hub.add_observer("delta_a", &observer);
  hub.on_frame("delta_a", data(2, 2), text("b"));
  hub.on_frame("delta_a", data(2, 3), text("whole"));
  CHECK(observer.delivered == std::vector<std::string>{"whole"});
}

TEST_CASE("observers in the middle of a message are closed when the stream restarts") {
  stream_hub hub(1 << 20);
  recording_client watching(hub, "delta_a"), joining(hub, "delta_a");
  hub.add_observer("delta_a", &watching);
  hub.on_frame("delta_a", part(2, 1), text("a"));
  hub.add_observer("delta_a", &joining);
  hub.on_frame("delta_a", {frame_kind::stream_end, 2, 1, {}, {}},
               end_notice(proto::end_code::connection_lost, "connection lost"));
  CHECK(watching.ended == close_code::restarting);
  CHECK(watching.reason.find("middle of a transaction") != std::string::npos);
  CHECK_FALSE(joining.ended);  // it had not started the message
  hub.on_frame("delta_a", part(3, 1), text("x"));
  hub.on_frame("delta_a", data(3, 2), text("y"));
  CHECK(joining.delivered == std::vector<std::string>{"xy"});
}

TEST_CASE("a lost piece closes every observer of the stream") {
  stream_hub hub(1 << 20);
  recording_client watching(hub, "delta_a"), joining(hub, "delta_a");
  hub.add_observer("delta_a", &watching);
  hub.on_frame("delta_a", part(2, 1), text("a"));
  hub.add_observer("delta_a", &joining);
  hub.on_frame("delta_a", data(2, 3), text("c"));
  CHECK(watching.ended == close_code::internal_error);
  CHECK(joining.ended == close_code::internal_error);
  CHECK(hub.observers() == 0);
}

TEST_CASE("messages received: a v1 transaction is one, however many pieces; a row stream's events are its lines") {
  stream_hub hub(1 << 20);
  recording_client v1(hub, "delta_v1slot"), rows(hub, "delta_v2_orders");
  hub.add_observer("delta_v1slot", &v1);
  hub.add_observer("delta_v2_orders", &rows);

  hub.on_frame("delta_v1slot", part(1, 1), text(R"({"nextlsn":"0/1","change":[)"));
  hub.on_frame("delta_v1slot", data(1, 2), text("]}"));
  hub.on_frame("delta_v1slot", data(1, 3), text(R"({"nextlsn":"0/2","change":[]})"));
  // A row stream's pieces are whole lines: every one but the last ends with '\n'.
  hub.on_frame("delta_v2_orders", part(1, 1), text("{\"op\":\"begin\"}\n{\"op\":\"insert\"}\n"));
  hub.on_frame("delta_v2_orders", part(1, 2), text("{\"op\":\"insert\"}\n"));
  hub.on_frame("delta_v2_orders", data(1, 3), text("{\"op\":\"commit\"}"));
  hub.on_frame("delta_v2_orders", {frame_kind::heartbeat, 1, 3, lsn(300), lsn(3)}, text(""));

  const auto stats = hub.stats();
  CHECK(stats.at("delta_v1slot").received == 2);
  CHECK(stats.at("delta_v2_orders").received == 4);
  CHECK(rows.delivered.size() == 1);  // counting changes nothing of the delivery

  hub.on_frame("delta_v2_other", data(1, 1), text("{\"op\":\"commit\"}"));  // no connection here
  CHECK_FALSE(hub.stats().contains("delta_v2_other"));
}
