// The stream's bookkeeping with no PostgreSQL and no ZeroMQ: a fake replication
// connection fed the CopyData bytes a walsender sends for wal2json (write-in-chunks), and
// a recording sink in place of the publisher.
#include <doctest/doctest.h>

#include <deque>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "proto/stream_end.hpp"
#include "reader/stream.hpp"
#include "reader/pgoutput_decoder.hpp"
#include "reader/wal2json_decoder.hpp"

using namespace deltastream;
using namespace deltastream::reader;
using proto::frame_kind;

namespace {

void put_u64(std::vector<std::uint8_t>& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// XLogData: 'w' | dataStart | walEnd | sendTime | data
std::vector<std::uint8_t> xlog(std::uint64_t start, std::uint64_t end, std::string_view data) {
  std::vector<std::uint8_t> out{'w'};
  put_u64(out, start);
  put_u64(out, end);
  put_u64(out, 0);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Primary keepalive: 'k' | walEnd | sendTime | replyRequested
std::vector<std::uint8_t> keepalive_at(std::uint64_t end) {
  std::vector<std::uint8_t> out{'k'};
  put_u64(out, end);
  put_u64(out, 0);
  out.push_back(0);
  return out;
}

// What a walsender sends for one wal2json transaction in chunks (write-in-chunks).
std::vector<std::vector<std::uint8_t>> transaction(std::uint64_t start, std::uint64_t next,
                                                   const std::vector<std::string>& changes) {
  char head[80];
  std::snprintf(head, sizeof head, R"({"nextlsn":"%X/%X","change":[)", static_cast<unsigned>(next >> 32),
                static_cast<unsigned>(next));
  std::vector<std::vector<std::uint8_t>> chunks{xlog(start, start, head)};
  for (std::size_t i = 0; i < changes.size(); ++i) {
    chunks.push_back(xlog(start + 1 + i, start + 1 + i, (i ? "," : "") + changes[i]));
  }
  chunks.push_back(xlog(start + 1 + changes.size(), next, "]}"));
  return chunks;
}

std::string joined(const std::vector<std::vector<std::uint8_t>>& chunks) {
  std::string out;
  for (const auto& chunk : chunks) out.append(chunk.begin() + 25, chunk.end());
  return out;
}

struct connection_log {
  std::vector<lsn> starts;          // START_REPLICATION positions, one per connection
  std::vector<standby_status> statuses;
};

class fake_source final : public replication_source {
 public:
  fake_source(connection_log& log, std::deque<std::vector<std::uint8_t>>& incoming)
      : log_(log), incoming_(incoming) {}
  std::optional<wait_for> poll_start() override { return std::nullopt; }
  read_status read(std::span<const std::uint8_t>& message) override {
    if (incoming_.empty()) return read_status::would_block;
    if (incoming_.front().empty()) {  // an empty entry stands for the server hanging up
      incoming_.pop_front();
      throw pg_error("replication connection lost: server closed the connection", "08006");
    }
    current_ = std::move(incoming_.front());
    incoming_.pop_front();
    message = current_;
    return read_status::message;
  }
  void consume_input() override {}
  void send_status(const standby_status& status) override { log_.statuses.push_back(status); }
  bool flush() override { return false; }
  int socket() const override { return -1; }

 private:
  connection_log& log_;
  std::deque<std::vector<std::uint8_t>>& incoming_;
  std::vector<std::uint8_t> current_;
};

struct published {
  std::string stream;
  proto::frame_header header;
  std::string payload;
};

struct recording_sink final : message_sink {
  std::vector<published> frames;
  bool room = true;        // false: refuses every frame, as a full XPUB does
  bool subscribed = true;  // what reaches() answers
  bool publish(std::string_view stream, const proto::frame_header& header, std::string& payload) override {
    if (!room) return false;
    frames.push_back({std::string(stream), header, std::move(payload)});
    return true;
  }
  bool reaches(std::string_view, std::string_view) const override { return subscribed; }
  std::vector<published> of_kind(frame_kind kind) const {
    std::vector<published> out;
    for (const auto& frame : frames) {
      if (frame.header.kind == kind) out.push_back(frame);
    }
    return out;
  }
};

// A stream wired to the fakes, attached at `committed`.
struct harness {
  explicit harness(lsn committed = lsn(0x100), std::size_t part_bytes = 256 << 10, bool journaled = false,
                   std::unique_ptr<change_decoder> decoder = nullptr) {
    settings.message_part_bytes = part_bytes;
    settings.journaled = journaled;
    settings.connect = [this](const std::string&, lsn start, const replication_options&) {
      log.starts.push_back(start);
      return std::make_unique<fake_source>(log, incoming);
    };
    subject = std::make_unique<stream>(*stream_name::parse("delta_unit"), committed,
                                       decoder ? std::move(decoder) : std::make_unique<wal2json_decoder>(part_bytes),
                                       settings, sink, ends, epochs);
  }
  void feed(const std::vector<std::vector<std::uint8_t>>& messages) {
    incoming.insert(incoming.end(), messages.begin(), messages.end());
  }
  void turn(clock::time_point when = clock::now()) { subject->step(when, {true, false}); }

  stream_settings settings;
  connection_log log;
  std::deque<std::vector<std::uint8_t>> incoming;
  recording_sink sink;
  end_outbox ends;
  epoch_clock epochs;
  std::unique_ptr<stream> subject;
};

}  // namespace

TEST_CASE("a transaction's chunks are published as one data frame, byte for byte") {
  harness h;
  h.subject->start();
  REQUIRE(h.subject->connected());
  CHECK(h.log.starts == std::vector<lsn>{lsn(0x100)});
  const auto first = transaction(0x200, 0x2A0, {R"({"kind":"insert","columnvalues":[1]})",
                                                 R"({"kind":"insert","columnvalues":[2]})"});
  h.feed(first);
  h.feed({keepalive_at(0x2A0)});
  h.turn();
  const auto data = h.sink.of_kind(frame_kind::data);
  REQUIRE(data.size() == 1);
  CHECK(data[0].payload == joined(first));
  CHECK(data[0].header.seq == 1);
  CHECK(data[0].header.epoch == h.subject->epoch());
  CHECK(data[0].header.position == lsn(0x2A0));      // nextlsn: what acknowledges it
  CHECK(data[0].header.wal_position == lsn(0x200));  // the first chunk's start
  CHECK(h.subject->delivered() == lsn(0x2A0));
  // The heartbeat that announced the epoch came before it.
  CHECK(h.sink.frames.front().header.kind == frame_kind::heartbeat);
}

TEST_CASE("a transaction over the part size goes out in data_part pieces that join to it") {
  harness h(lsn(0x100), 64);
  h.subject->start();
  std::vector<std::string> changes;
  for (int i = 0; i < 10; ++i) changes.push_back(R"({"kind":"insert","columnvalues":[)" + std::to_string(i) + "]}");
  const auto chunks = transaction(0x200, 0x900, changes);
  h.feed(chunks);
  h.turn();
  std::vector<published> pieces;
  for (const auto& frame : h.sink.frames) {
    if (proto::carries_data(frame.header.kind)) pieces.push_back(frame);
  }
  REQUIRE(pieces.size() > 2);
  std::string whole;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    CHECK(pieces[i].header.kind == (i + 1 < pieces.size() ? frame_kind::data_part : frame_kind::data));
    CHECK(pieces[i].header.seq == i + 1);
    CHECK(pieces[i].header.position == lsn(0x900));
    whole += pieces[i].payload;
  }
  CHECK(whole == joined(chunks));
}

TEST_CASE("an ACK counts only for its epoch and up to what the epoch delivered") {
  harness h;
  h.subject->start();
  const auto epoch = h.subject->epoch();
  // A piece is not acknowledgeable until its message's last piece is out.
  h.feed(transaction(0x200, 0x2A0, {R"({"kind":"insert"})"}));
  h.turn();
  CHECK(h.subject->ack(epoch, lsn(0x2A1)) == stream::ack_outcome::beyond_delivered);
  CHECK(h.subject->ack(epoch + 1, lsn(0x2A0)) == stream::ack_outcome::stale_epoch);
  CHECK(h.subject->ack(epoch, lsn(0x2A0)) == stream::ack_outcome::accepted);
  CHECK(h.subject->ack(epoch, lsn(0x200)) == stream::ack_outcome::unchanged);
  CHECK(h.subject->acked() == lsn(0x2A0));
  h.turn();  // the ACK goes to PostgreSQL on the next turn
  REQUIRE_FALSE(h.log.statuses.empty());
  CHECK(h.log.statuses.back().flushed == lsn(0x2A0));
}

TEST_CASE("idle and fully acknowledged, the flush position follows the server's WAL end") {
  harness h;
  h.subject->start();
  const auto epoch = h.subject->epoch();
  h.feed(transaction(0x200, 0x2A0, {R"({"kind":"insert"})"}));
  h.feed({keepalive_at(0x5000)});
  h.turn();
  CHECK(h.log.statuses.back().flushed == lsn(0x100));  // delivered, not acknowledged: stays
  CHECK(h.subject->ack(epoch, lsn(0x2A0)) == stream::ack_outcome::accepted);
  h.feed({keepalive_at(0x6000)});
  h.turn();
  CHECK(h.log.statuses.back().flushed == lsn(0x6000));
}

TEST_CASE("with a journal, PostgreSQL confirms an acknowledged position only once the journal holds it") {
  harness h(lsn(0x100), 256 << 10, /*journaled=*/true);
  h.subject->start();
  const auto epoch = h.subject->epoch();
  h.feed(transaction(0x200, 0x2A0, {R"({"kind":"insert"})"}));
  h.turn();
  CHECK(h.subject->ack(epoch, lsn(0x2A0)) == stream::ack_outcome::accepted);
  h.feed({keepalive_at(0x6000)});
  h.turn();
  CHECK(h.log.statuses.back().flushed == lsn(0x100));  // not in the journal yet: neither it nor the idle advance
  h.subject->durable(lsn(0x2A0));
  h.turn();
  CHECK(h.log.statuses.back().flushed == lsn(0x6000));  // the ACK, and the idle advance past it
}

TEST_CASE("a lost connection restarts from the acknowledged position, ACKs made meanwhile too") {
  harness h;
  h.subject->start();
  const auto first_epoch = h.subject->epoch();
  h.feed(transaction(0x200, 0x2A0, {R"({"kind":"insert"})"}));
  h.feed(transaction(0x300, 0x3A0, {R"({"kind":"insert"})"}));
  h.feed({{}});  // the server hangs up
  h.turn();
  CHECK_FALSE(h.subject->connected());
  const auto ends = h.sink.of_kind(frame_kind::stream_end);
  REQUIRE(ends.size() == 1);
  CHECK(ends[0].header.epoch == first_epoch);
  CHECK(proto::decode_stream_end(ends[0].payload).code == proto::end_code::connection_lost);
  // The consumer processed the first transaction; its ACK arrives while reconnecting.
  CHECK(h.subject->ack(first_epoch, lsn(0x2A0)) == stream::ack_outcome::accepted);
  h.turn(clock::now() + std::chrono::seconds(1));  // past the backoff
  REQUIRE(h.subject->connected());
  CHECK(h.log.starts == std::vector<lsn>{lsn(0x100), lsn(0x2A0)});
  CHECK(h.subject->epoch() != first_epoch);
  // An ACK still in flight from the epoch that ended moves nothing now.
  CHECK(h.subject->ack(first_epoch, lsn(0x2A0)) == stream::ack_outcome::stale_epoch);
  CHECK(h.subject->ack(first_epoch, lsn(0x3A0)) == stream::ack_outcome::stale_epoch);
  CHECK(h.subject->acked() == lsn(0x2A0));
}

TEST_CASE("an epoch reads and publishes nothing until a subscriber would receive it") {
  harness h;
  h.sink.subscribed = false;
  h.subject->start();
  h.feed(transaction(0x200, 0x2A0, {R"({"kind":"insert"})"}));
  h.turn();
  CHECK(h.sink.frames.empty());
  CHECK(h.subject->awaiting_subscriber());
  CHECK_FALSE(h.subject->wants_read());
  h.sink.subscribed = true;
  h.turn();
  REQUIRE(h.sink.frames.size() == 2);
  CHECK(h.sink.frames[0].header.kind == frame_kind::heartbeat);
  CHECK(h.sink.frames[1].header.kind == frame_kind::data);
  CHECK(h.sink.frames[1].header.seq == 1);
}

TEST_CASE("a stream_end the subscribers refused goes out later, before the next epoch") {
  harness h;
  h.subject->start();
  const auto first_epoch = h.subject->epoch();
  h.sink.frames.clear();  // the first epoch's heartbeat
  h.sink.room = false;
  h.feed({{}});
  h.turn();  // the end of the first epoch is refused: kept
  CHECK(h.ends.holds("delta_unit"));
  h.sink.room = true;
  h.turn(clock::now() + std::chrono::seconds(1));  // reconnected: the new epoch waits
  REQUIRE(h.subject->connected());
  CHECK(h.subject->awaiting_subscriber());
  CHECK(h.sink.frames.empty());
  h.ends.flush(h.sink);
  h.turn();
  REQUIRE(h.sink.frames.size() == 2);
  CHECK(h.sink.frames[0].header.kind == frame_kind::stream_end);
  CHECK(h.sink.frames[0].header.epoch == first_epoch);
  CHECK(h.sink.frames[1].header.kind == frame_kind::heartbeat);
  CHECK(h.sink.frames[1].header.epoch == h.subject->epoch());
}

TEST_CASE("a new epoch never confirms past its start what it has not delivered again") {
  // The fault run's loss: the WAL end seen in the epoch that ended let the next epoch,
  // idle at its start, confirm past transactions it had still to deliver again.
  harness h;
  h.subject->start();
  const auto first_epoch = h.subject->epoch();
  h.feed(transaction(0x200, 0x2A0, {R"({"kind":"insert"})"}));
  h.feed({keepalive_at(0x5000)});
  h.feed({{}});  // delivered, not acknowledged, and the server hangs up
  h.turn();
  REQUIRE_FALSE(h.subject->connected());
  h.turn(clock::now() + std::chrono::seconds(1));
  REQUIRE(h.subject->connected());
  REQUIRE(h.subject->epoch() != first_epoch);
  CHECK(h.log.starts.back() == lsn(0x100));
  CHECK(h.log.statuses.back().flushed == lsn(0x100));
  h.feed(transaction(0x200, 0x2A0, {R"({"kind":"insert"})"}));
  h.feed({keepalive_at(0x5000)});
  h.turn();
  CHECK(h.log.statuses.back().flushed == lsn(0x100));
  CHECK(h.subject->ack(h.subject->epoch(), lsn(0x2A0)) == stream::ack_outcome::accepted);
  h.feed({keepalive_at(0x5100)});
  h.turn();
  CHECK(h.log.statuses.back().flushed == lsn(0x5100));  // now all delivered is acknowledged
}

namespace {

// pgoutput (protocol 1) for one insert into public.t (id of type 16500, an enum): Begin, Relation,
// Insert, Commit with end LSN `next`.
std::vector<std::vector<std::uint8_t>> pgoutput_insert(std::uint64_t start, std::uint64_t next) {
  const auto u32 = [](std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
  };
  const auto u64 = [&](std::string& out, std::uint64_t value) {
    u32(out, static_cast<std::uint32_t>(value >> 32));
    u32(out, static_cast<std::uint32_t>(value));
  };
  std::string begin = "B";
  u64(begin, next - 8);
  u64(begin, 0);
  u32(begin, 745);
  std::string relation = "R";
  u32(relation, 1);
  relation += std::string("public\0t\0d", 10);
  relation += std::string("\0\1\1id\0", 6);
  u32(relation, 16500);  // a type of the database's own: its name is asked for
  u32(relation, 0xFFFFFFFF);
  std::string insert = "I";
  u32(insert, 1);
  insert += std::string("N\0\1t", 4);
  u32(insert, 1);
  insert += "7";
  std::string commit("C\0", 2);
  u64(commit, next - 8);
  u64(commit, next);
  u64(commit, 0);
  return {xlog(start, start, begin), xlog(start, start, relation), xlog(start + 1, start + 1, insert),
          xlog(start + 2, next, commit)};
}

}  // namespace

TEST_CASE("pgoutput: reading waits while a relation's type names are looked up, then nothing is missing") {
  type_names names;
  harness h(lsn(0x100), 256 << 10, false, std::make_unique<pgoutput_decoder>(std::vector<std::string>{"p"}, names, 1024));
  std::vector<type_key> asked;
  stream_settings::type_answer answer;
  h.settings.resolve_types = [&](std::vector<type_key> keys, stream_settings::type_answer done) {
    asked = std::move(keys);
    answer = std::move(done);
  };
  h.subject->start();
  h.feed(pgoutput_insert(0x200, 0x2A0));
  h.turn();
  CHECK(asked == std::vector<type_key>{{16500, -1}});
  CHECK_FALSE(h.subject->wants_read());
  h.turn();
  CHECK(h.sink.of_kind(frame_kind::data).empty());
  CHECK(h.incoming.size() == 2);  // the insert and the commit wait in the connection
  names.insert({16500, -1}, "mood");
  answer("");
  h.turn();
  const auto data = h.sink.of_kind(frame_kind::data);
  REQUIRE(data.size() == 1);
  CHECK(data[0].payload ==
        R"({"nextlsn":"0/2A0","change":[{"kind":"insert","schema":"public","table":"t","columnnames":["id"],)"
        R"("columntypes":["mood"],"columnvalues":["7"]}]})");
  CHECK(data[0].header.position == lsn(0x2A0));
}

TEST_CASE("pgoutput: a failed type lookup loses the connection, to resume from what was acknowledged") {
  type_names names;
  harness h(lsn(0x100), 256 << 10, false, std::make_unique<pgoutput_decoder>(std::vector<std::string>{"p"}, names, 1024));
  stream_settings::type_answer answer;
  h.settings.resolve_types = [&](std::vector<type_key>, stream_settings::type_answer done) { answer = std::move(done); };
  h.subject->start();
  h.feed(pgoutput_insert(0x200, 0x2A0));
  h.turn();
  REQUIRE(answer);
  answer("the SQL connection is down");
  CHECK_FALSE(h.subject->connected());
  CHECK(h.subject->reconnects() == 1);
  CHECK(h.sink.of_kind(frame_kind::data).empty());
  CHECK(h.subject->resume_position() == lsn(0x100));
}
