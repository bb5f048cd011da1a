#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include <libpq-fe.h>

#include "gateway/query_string.hpp"
#include "gateway/snapshot_store.hpp"

namespace deltastream::gateway {

// GET /v2/streams/{name}/snapshot?table=public.orders[&after=[600000]][&limit=N]: one
// table of a v2 stream's snapshot, with the stream's columns and row filter (its
// publication's, as PostgreSQL resolved them), in primary-key order, from after a key.
struct v2_snapshot_request {
  std::string publication;  // the stream's slot name
  std::string table;
  std::string after;  // a JSON array of the key's values, or empty
  std::optional<std::uint64_t> limit;
  std::string publication_oid;  // the stream's publication now: the snapshot's must be it
};

// The request from the query string, or the 400's message.
std::variant<v2_snapshot_request, std::string> parse_v2_snapshot_request(const request_target& target,
                                                                         std::string publication);

// The COPY that reads it, on a connection in the stream's snapshot: built from what
// PostgreSQL's catalogs say (quoted names, format_type's types, the publication's row
// filter as PostgreSQL deparsed it); `after` goes in a setting, read by a cast to each
// key column's type. Or the refusal: 410 when the snapshot is of a stream of the same
// name since deleted, 404 for a table not in the stream, 400 for an `after` that does not
// fit the key. Throws pg_error.
std::variant<snapshot_store::page, std::string> build_v2_snapshot_copy(PGconn* conn,
                                                                      const v2_snapshot_request& request);

}  // namespace deltastream::gateway
