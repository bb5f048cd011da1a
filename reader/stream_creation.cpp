#include "reader/stream_registry.hpp"

#include "common/logging.hpp"
#include "reader/row_stream_spec.hpp"

// How streams are created: a slot with an exported snapshot, after the publications a
// pgoutput stream reads; a row stream's own publication first. Every reply waits for
// PostgreSQL's answer.
namespace deltastream::reader {

using proto::error_reply;
using proto::refusal_code;

std::optional<std::string> stream_registry::create(const proto::control_request& request,
                                                   std::uint64_t ticket) {
  if (!request.tables.empty() || is_row_stream(request.stream)) return create_row_stream(request, ticket);
  const auto name = request.stream.empty() ? stream_name::generate() : *stream_name::parse(request.stream);
  const auto plugin = request.plugin.empty() ? settings_.plugin : request.plugin;
  // A new slot: nothing of it is acknowledged. Only once it exists: a create refused
  // because the name is taken must not take the live stream's journal entry.
  auto forget_journal = [this, name](std::optional<lsn> start) {
    if (start && journal_) journal_->forget(name.str());
  };
  if (plugin != "pgoutput") {
    creations_.create(name, plugin, request.id, ticket, forget_journal);
    return std::nullopt;  // answered from step(), once PostgreSQL has
  }
  // The publication first: a slot that could not be streamed is never created.
  publications_.prepare([this, name, id = request.id, ticket, forget_journal](std::optional<pg_error> error) {
    try {
      if (error) throw *error;
      creations_.create(name, "pgoutput", id, ticket, forget_journal);
    } catch (const pg_error& refused) {
      reply_later_(ticket, postgres_refusal(id, "create " + name.str(), refused));
    }
  });
  return std::nullopt;
}

// A row stream: its own publication (the tables, columns and row filters asked for), then
// a pgoutput slot; a slot that could not be created takes the publication with it.
std::optional<std::string> stream_registry::create_row_stream(const proto::control_request& request,
                                                             std::uint64_t ticket) {
  if (!is_row_stream(request.stream) || request.tables.empty()) {
    return error_reply(request.id, refusal_code::bad_request,
                       "a row stream needs both a name beginning " + std::string(row_stream_prefix) +
                           " and \"tables\"; other names are for wal2json-format streams, without \"tables\"");
  }
  auto tables = parse_row_tables(request.tables);
  if (const auto* problem = std::get_if<std::string>(&tables)) {
    return error_reply(request.id, refusal_code::bad_request, *problem);
  }
  const auto name = *stream_name::parse(request.stream);
  if (!creating_rows_.insert(name.str()).second) {
    return proto::refusal(request.id, refusal_code::postgres, "a stream named \"" + name.str() + "\" is being created")
        .add("sqlstate", "42710")
        .str();
  }
  const auto definition = row_stream_definition(name.str(), std::get<std::vector<row_table_spec>>(tables));
  row_streams_.create(definition, [this, name, id = request.id, ticket](std::optional<pg_error> error) {
    try {
      if (error) throw *error;
      creations_.create(name, "pgoutput", id, ticket, [this, name](std::optional<lsn> start) {
        creating_rows_.erase(name.str());
        if (start && journal_) journal_->forget(name.str());
        if (start) return row_streams_.record_start(name.str(), *start);
        row_streams_.remove_orphan(name.str());
      });
    } catch (const pg_error& refused) {
      creating_rows_.erase(name.str());
      if (!error) row_streams_.remove_orphan(name.str());
      reply_later_(ticket, postgres_refusal(id, "create " + name.str(), refused));
    }
  });
  return std::nullopt;
}

}  // namespace deltastream::reader
