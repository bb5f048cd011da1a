#pragma once

#include <string>
#include <string_view>

namespace deltastream::proto {

// Why an epoch ended: the payload of a stream_end frame is {"code":"...","reason":"..."}.
// Subscribers switch on the code; the reason is for people (proto/PROTOCOL.md).
enum class end_code {
  detached,         // a detach request: nothing streams until the next attach
  restarted,        // an attach with restart: a new epoch follows at once
  dropped,          // the slot no longer exists: there is nothing to re-attach to
  connection_lost,  // PostgreSQL went away or sent what the reader cannot decode: retrying
  shutdown,         // the reader is stopping
  unknown,          // a code this build does not know, or a payload that is not the object
};

struct stream_end_notice {
  end_code code = end_code::unknown;
  std::string reason;

  // Only a dropped stream ends for good; any other end is resumed from the last ACK.
  bool ends_for_good() const { return code == end_code::dropped; }
};

std::string_view to_string(end_code code);
std::string encode_stream_end(end_code code, std::string_view reason);
// Never throws: an unreadable payload is `unknown`, with the bytes as its reason.
stream_end_notice decode_stream_end(std::string_view payload);

}  // namespace deltastream::proto
