#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/json_writer.hpp"
#include "common/lsn.hpp"

namespace deltastream::proto {

// Control requests to the reader's ROUTER socket: one JSON object per request,
// one JSON object per reply. See proto/PROTOCOL.md.

enum class control_op { create, drop, list, attach, detach, ack, release, status, hold, unhold };

std::string_view to_string(control_op op);
std::optional<control_op> parse_control_op(std::string_view text);

struct control_request {
  control_op op = control_op::status;
  std::string id;      // echoed in the reply; lets a DEALER match replies to requests
  std::string stream;  // create (optional: generated when empty), drop, attach, detach, ack
  std::optional<lsn> ack_lsn;  // ack only
  bool restart = false;        // attach: start a new epoch even if already streaming
  // attach, hold, unhold: who consumes the stream (at most one consumer per stream,
  // across gateways); attach with takeover replaces the current one.
  std::string consumer;
  bool takeover = false;
};

// A decoded request, or the reason it was refused (and the id, if one could be read,
// so that the error reply still reaches the right caller).
struct decoded_request {
  std::optional<control_request> request;
  std::string error;
  std::string id;
};

// Untrusted bytes in, never throws.
decoded_request decode_control_request(std::string_view json);
std::string encode_control_request(const control_request& request);

// The fields of a reply that clients act on (others are informational).
struct control_reply {
  bool ok = false;
  std::string id;
  std::string error;
  std::string stream;
  std::string snapshot;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  lsn start_lsn;  // attach: the position the stream resumes after (already committed)
  bool conflict = false;  // attach: another consumer holds the stream
  std::optional<std::uint64_t> retry_after_ms;  // ...whose lease ends then unless renewed
  std::string json;  // the whole reply, for the fields only some callers read
};
// Never throws: a malformed reply comes back as ok=false with the reason.
control_reply decode_control_reply(std::string_view json);

// Replies: {"id":..,"ok":true,...} and {"id":..,"ok":false,"error":"..."}.
json_object ok_reply(std::string_view id);
std::string error_reply(std::string_view id, std::string_view message);

}  // namespace deltastream::proto
