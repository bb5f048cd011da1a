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

// The control protocol's version: every request and reply carries it as "protocol". A
// request with another is refused (one without is a tool that predates the field, whose
// requests version 2 still reads alike); a gateway refuses replies without this one.
inline constexpr std::uint64_t control_protocol = 2;

enum class control_op { create, drop, list, attach, detach, ack, release, status, hold, unhold };

std::string_view to_string(control_op op);
std::optional<control_op> parse_control_op(std::string_view text);

// Why a request was refused: what clients switch on. The "error" text beside it is for
// people and may change; the codes may not (proto/PROTOCOL.md).
enum class refusal_code {
  none,              // not refused, or refused by something that is not the reader
  bad_request,       // malformed JSON, a missing field, an invalid stream name
  no_such_stream,    // no slot of ours by that name
  not_attached,      // ack/detach on a stream that is not streaming
  conflict,          // attach: another consumer holds the stream (retry_after_ms)
  taken_over,        // hold/ack from a consumer that no longer holds the stream
  stale_epoch,       // ack for an epoch that is over: the stream restarted since
  beyond_delivered,  // ack past what this epoch delivered
  no_snapshot,       // release: no exported snapshot is held
  postgres,          // PostgreSQL refused or is unreachable (its message in "error")
  unknown,           // a code this build does not know (a newer reader)
};

std::string_view to_string(refusal_code code);
refusal_code parse_refusal_code(std::string_view text);

struct control_request {
  control_op op = control_op::status;
  std::string id;      // echoed in the reply; lets a DEALER match replies to requests
  std::string stream;  // create (optional: generated when empty), drop, attach, detach, ack
  std::optional<lsn> ack_lsn;  // ack only
  // ack: the epoch the acknowledged messages were delivered in (a fence: an ACK from an
  // epoch that is over moves nothing).
  std::optional<std::uint64_t> epoch;
  bool restart = false;        // attach: start a new epoch even if already streaming
  // attach, hold, unhold, ack: who consumes the stream (at most one consumer per stream,
  // across gateways); attach with takeover replaces the current one.
  std::string consumer;
  bool takeover = false;
  // attach: the new epoch's first frame waits until the reader has seen the subscription
  // `<stream>\0<marker>` (it matches no frame) from the caller's SUB socket, so that the
  // frame cannot be published before that socket would receive it.
  std::string marker;
  // create: the slot's output plugin, "wal2json" or "pgoutput" (empty: the reader's
  // --plugin). The slot keeps it: every later attach decodes by it.
  std::string plugin;
  // hold: the consumer falls behind: the stream publishes nothing more until a hold
  // without it, or for as long as a lease lasts (a consumer that vanished stops nothing).
  bool pause = false;
  // create: a row stream (named delta_v2_...): its tables as a JSON array of
  // {"table", "columns"?, "where"?}, published one JSON message per row (PROTOCOL.md).
  std::string tables;
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
  refusal_code code = refusal_code::none;
  std::string stream;
  std::string snapshot;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  lsn start_lsn;  // attach: the position the stream resumes after (already committed)
  // attach with restart: the epoch this attach ended, whose tail may still be on its way.
  std::optional<std::uint64_t> ended_epoch;
  std::optional<std::uint64_t> retry_after_ms;  // ...whose lease ends then unless renewed
  std::optional<std::uint64_t> protocol;  // the reader's control protocol (none before 2)
  std::string sqlstate;  // with code postgres: PostgreSQL's SQLSTATE, when it gave one
  std::string json;  // the whole reply, for the fields only some callers read
};
// Never throws: a malformed reply comes back as ok=false with the reason.
control_reply decode_control_reply(std::string_view json);

// Replies: {"id":..,"ok":true,...} and {"id":..,"ok":false,"code":"...","error":"..."}.
json_object ok_reply(std::string_view id);
json_object refusal(std::string_view id, refusal_code code, std::string_view message);
std::string error_reply(std::string_view id, refusal_code code, std::string_view message);

}  // namespace deltastream::proto
