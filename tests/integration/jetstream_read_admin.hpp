#pragma once

#include <cstdint>
#include <cstdio>

#include "tests/integration/jetstream_read_options.hpp"
#include "tests/integration/jetstream_read_session.hpp"

namespace deltastream::jetstream_read {

// --info: one line {"messages","bytes","first_seq","last_seq","replicas","leader","subjects"};
// tool_error(no_stream) if the stream does not exist.
void print_stream_info(nats_session& session, error_budget& budget, const std::string& stream, std::FILE* out);

// --create-stream: file storage; an identical existing stream is success, a different
// one tool_error(rejected). Prints the new stream's --info line.
void create_stream(nats_session& session, error_budget& budget, const std::string& stream,
                   const create_options& options, std::FILE* out);

// --update-max-msgs: the stream's config with MaxMsgs changed (-1: no limit); prints
// the --info line after the change.
void update_max_msgs(nats_session& session, error_budget& budget, const std::string& stream,
                     std::int64_t max_msgs, std::FILE* out);

// --publish: synchronous JetStream publishes, each retried with the same Nats-Msg-Id until
// acknowledged (so a retry after a lost ack is stored once); one line per publish ack,
// {"msg_id","stream","seq","duplicate"}. A refusal (limits) is tool_error(rejected).
void publish_messages(nats_session& session, error_budget& budget, const std::string& stream,
                      const publish_options& options, std::FILE* out);

// Writes one line and flushes it: a failed write (closed stdout) is tool_error(failure).
void write_line(std::FILE* out, const std::string& line);

}  // namespace deltastream::jetstream_read
