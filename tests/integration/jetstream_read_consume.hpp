#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <nats/nats.h>

#include "tests/integration/jetstream_read_options.hpp"
#include "tests/integration/jetstream_read_session.hpp"

namespace deltastream::jetstream_read {

// One message as a line: {"subject","stream_seq","headers":{name: first value},"data"}.
// Header names are sorted (nats.c returns them in hash order); the payload is a JSON
// string, bytes >= 0x80 passed through as they are (UTF-8 stays UTF-8).
std::string message_line(natsMsg* msg);

// Reads `stream` through the durable pull consumer options.durable (created if missing,
// AckExplicit): prints each message, flushes, then acknowledges it (AckSync, so the next
// run starts exactly after it) — or, with ack_mode::no_ack, hands every message back
// (NAK) before returning, so that the next read gets them again at once. Ends after
// options.max messages, or once none came for options.idle and the consumer's leader
// confirms nothing is left to deliver. Returns the number of messages printed.
std::uint64_t read_stream(nats_session& session, error_budget& budget, const std::string& stream,
                          const read_options& options, std::FILE* out);

}  // namespace deltastream::jetstream_read
