#include "reader/end_outbox.hpp"

#include <algorithm>

#include "common/logging.hpp"

namespace deltastream::reader {

void end_outbox::publish(message_sink& sink, std::string_view stream,
                         const proto::frame_header& header, std::string payload) {
  // Behind a kept end of the same stream, or it would overtake it.
  if (!holds(stream) && sink.publish(stream, header, payload)) return;
  module_logger("stream")->info("{}: the subscribers are full; the end of epoch {} goes out "
                                "when they have room", stream, header.epoch);
  held_.push_back({std::string(stream), header, std::move(payload)});
}

void end_outbox::flush(message_sink& sink) {
  while (!held_.empty()) {
    auto& next = held_.front();
    if (!sink.publish(next.stream, next.header, next.payload)) return;
    held_.pop_front();
  }
}

bool end_outbox::holds(std::string_view stream) const {
  return std::any_of(held_.begin(), held_.end(), [&](const held_frame& frame) { return frame.stream == stream; });
}

}  // namespace deltastream::reader
