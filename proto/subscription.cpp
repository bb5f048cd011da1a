#include "proto/subscription.hpp"

#include "proto/stream_end.hpp"

namespace deltastream::proto {

subscription::subscription(std::size_t max_attach_buffer_bytes)
    : max_attach_buffer_bytes_(max_attach_buffer_bytes) {}

void subscription::attaching(bool observer) {
  reset();
  state_ = state::attaching;
  observer_ = observer;
}

void subscription::reset() {
  state_ = state::idle;
  epoch_ = 0;
  seq_ = 0;
  ended_epoch_.reset();
  observer_ = false;
  skipping_ = false;
  kept_.clear();
  kept_bytes_ = 0;
}

std::vector<subscription::event> subscription::attached(std::uint64_t epoch, std::uint64_t seq,
                                                        std::optional<std::uint64_t> ended_epoch) {
  auto kept = std::move(kept_);
  const bool observer = observer_;
  reset();
  state_ = state::following;
  observer_ = observer;
  // A new epoch begins with a message; an observer joining a running one knows that the
  // next one does only if it saw the frame at `seq` end one.
  skipping_ = observer && seq != 0;
  epoch_ = epoch;
  seq_ = seq;
  ended_epoch_ = ended_epoch;
  std::vector<event> events;
  for (auto& frame : kept) {
    if (auto happened = check(frame.header, std::move(frame.payload))) {
      events.push_back(std::move(*happened));
      if (events.back().kind != event_kind::piece) break;  // the rest is of no use
    }
  }
  return events;
}

std::optional<subscription::event> subscription::feed(const frame_header& header,
                                                      std::shared_ptr<const std::string> payload) {
  switch (state_) {
    case state::idle:
      return std::nullopt;
    case state::attaching:
      kept_bytes_ += payload->size();
      if (kept_bytes_ > max_attach_buffer_bytes_) {
        return end(event_kind::overflow, "more than " + std::to_string(max_attach_buffer_bytes_) +
                                             " bytes of changes arrived before the attach reply");
      }
      kept_.push_back({header, std::move(payload)});
      return std::nullopt;
    case state::following:
      return check(header, std::move(payload));
  }
  return std::nullopt;
}

std::optional<subscription::event> subscription::check(const frame_header& header,
                                                       std::shared_ptr<const std::string> payload) {
  // The tail of the epoch our attach ended: published before the attach reply, which
  // came on another socket and may have overtaken it.
  if (ended_epoch_ == header.epoch) return std::nullopt;
  if (header.kind == frame_kind::stream_end) {
    const auto notice = decode_stream_end(*payload);
    if (notice.ends_for_good()) return end(event_kind::dropped, notice.reason);
    return end(event_kind::restart, "the stream ended (" + notice.reason + ")");
  }
  // Any other epoch is a restart, lower ones too: epochs come from the reader's clock,
  // which may have stepped back across a reader restart.
  if (header.epoch != epoch_) return end(event_kind::restart, "the reader restarted the stream (new epoch)");
  if (header.kind == frame_kind::heartbeat) {
    if (header.seq <= seq_) return std::nullopt;
    return end(event_kind::gap, "the reader sent seq " + std::to_string(header.seq) + ", the last seen is " +
                                    std::to_string(seq_));
  }
  if (observer_ && header.seq <= seq_) {  // published before the attach reply: seen, not followed
    if (header.seq == seq_) skipping_ = header.kind != frame_kind::data;
    return std::nullopt;
  }
  if (header.seq != seq_ + 1) {
    return end(event_kind::gap,
               "expected seq " + std::to_string(seq_ + 1) + ", got " + std::to_string(header.seq));
  }
  seq_ = header.seq;
  if (skipping_) {
    skipping_ = header.kind != frame_kind::data;
    return std::nullopt;
  }
  event piece;
  piece.payload = std::move(payload);
  piece.position = header.position;
  piece.last = header.kind == frame_kind::data;
  piece.epoch = epoch_;
  return piece;
}

subscription::event subscription::end(event_kind kind, std::string reason) {
  reset();
  event ended;
  ended.kind = kind;
  ended.reason = std::move(reason);
  return ended;
}

std::optional<message_assembler::message> message_assembler::add(const subscription::event& piece) {
  if (!piece.last) {
    bytes_ += *piece.payload;
    return std::nullopt;
  }
  message whole;
  whole.position = piece.position;
  whole.epoch = piece.epoch;
  if (bytes_.empty()) {
    whole.bytes = *piece.payload;
  } else {
    whole.bytes = std::move(bytes_) + *piece.payload;
    bytes_.clear();
  }
  return whole;
}

}  // namespace deltastream::proto
