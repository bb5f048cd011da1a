#pragma once

#include <deque>
#include <string>
#include <string_view>

#include "proto/data_frame.hpp"
#include "reader/publisher.hpp"

namespace deltastream::reader {

// stream_end frames that the subscribers could not take when they were published (a
// queue at its high-water mark refuses every send): kept, and offered again on every loop
// turn until they go out, so that a subscriber always learns that an epoch ended, late
// perhaps, but never silently not. A stream's next epoch waits until its end is out, so
// that the end never arrives after frames of the epoch that follows it.
class end_outbox {
 public:
  // Publishes now, or keeps the frame for later.
  void publish(message_sink& sink, std::string_view stream, const proto::frame_header& header,
               std::string payload);
  // Offers the kept frames again, in order; stops at the first one still refused.
  void flush(message_sink& sink);

  bool holds(std::string_view stream) const;
  bool empty() const { return held_.empty(); }

 private:
  struct held_frame {
    std::string stream;
    proto::frame_header header;
    std::string payload;
  };
  std::deque<held_frame> held_;
};

}  // namespace deltastream::reader
