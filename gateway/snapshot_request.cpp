#include "gateway/snapshot_request.hpp"

#include <algorithm>
#include <cctype>

#include <simdjson.h>

namespace deltastream::gateway {

namespace {

bool key_is(std::string_view key, std::string_view expected) {
  return key.size() == expected.size() &&
         std::equal(key.begin(), key.end(), expected.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// pgdeltastream's own messages, kept for clients that match on them.
constexpr std::string_view bad_direction =
    "order_by order direction can only be either 'ASC' or 'DESC'";
constexpr std::string_view missing_column = "required field 'column' missing in 'order_by'";

std::optional<request_error> read_count(simdjson::dom::element value, std::string_view name,
                                        std::uint64_t& out) {
  std::uint64_t number = 0;
  if (value.get_uint64().get(number)) {
    // Appended, not "\"" + std::string(name): GCC 12's -O2 warns falsely (-Wrestrict) on that.
    std::string message = "\"";
    message.append(name).append("\" must be a non-negative integer");
    return request_error{std::move(message)};
  }
  out = number;
  return std::nullopt;
}

std::optional<request_error> read_direction(std::string_view direction, sort_direction& out) {
  std::string lowered(direction);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lowered != "asc" && lowered != "desc") return request_error{std::string(bad_direction)};
  out = lowered == "asc" ? sort_direction::ascending : sort_direction::descending;
  return std::nullopt;
}

std::optional<request_error> read_order(simdjson::dom::element value,
                                        snapshot_request::order& out) {
  simdjson::dom::object object;
  if (value.get_object().get(object)) return request_error{"\"order_by\" must be an object"};
  std::string_view direction;
  bool has_direction = false;
  for (auto field : object) {
    std::string_view text;
    if (key_is(field.key, "column")) {
      if (field.value.get_string().get(text)) return request_error{"\"column\" must be a string"};
      out.column = std::string(text);
    } else if (key_is(field.key, "order")) {
      if (field.value.get_string().get(text)) return request_error{std::string(bad_direction)};
      direction = text;
      has_direction = true;
    }
  }
  if (out.column.empty()) return request_error{std::string(missing_column)};
  if (!has_direction) return request_error{std::string(bad_direction)};
  return read_direction(direction, out.direction);
}

// libpq takes names as C strings: a NUL would cut "orders\0x" to "orders" and read a
// table the client did not name.
std::optional<request_error> names_error(const snapshot_request& request) {
  if (request.table.find('\0') != std::string::npos) {
    return request_error{"invalid table name: it contains a NUL character"};
  }
  if (request.order_by && request.order_by->column.find('\0') != std::string::npos) {
    return request_error{"invalid column name in order_by: it contains a NUL character"};
  }
  return std::nullopt;
}

}  // namespace

snapshot_parse_result parse_snapshot_request(std::string_view body, std::uint64_t max_limit) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(root)) {
    // simdjson says the same of 01 and of a number past 64 bits, which JSON allows.
    if (error == simdjson::NUMBER_ERROR) {
      return request_error{"invalid input JSON: a number is malformed or out of range"};
    }
    return request_error{"invalid input JSON: the body is not valid JSON"};
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return request_error{"invalid input JSON: the body must be a JSON object"};
  }
  snapshot_request request;
  bool has_offset = false;
  bool has_limit = false;
  for (auto field : object) {
    std::string_view text;
    if (key_is(field.key, "slotname")) {
      if (field.value.get_string().get(text)) return request_error{"\"slotName\" must be a string"};
      request.slot_name = std::string(text);
    } else if (key_is(field.key, "table")) {
      if (field.value.get_string().get(text)) return request_error{"\"table\" must be a string"};
      request.table = std::string(text);
    } else if (key_is(field.key, "offset")) {
      if (auto error = read_count(field.value, "offset", request.offset)) return *error;
      has_offset = true;
    } else if (key_is(field.key, "limit")) {
      if (auto error = read_count(field.value, "limit", request.limit)) return *error;
      has_limit = true;
    } else if (key_is(field.key, "order_by")) {
      if (field.value.is_null()) continue;  // optional, as pgdeltastream's README says
      snapshot_request::order order;
      if (auto error = read_order(field.value, order)) return *error;
      request.order_by = std::move(order);
    }
    // Unknown keys are ignored, as pgdeltastream did.
  }
  if (request.table.empty()) return request_error{"invalid input JSON: \"table\" is required"};
  if (!has_offset) return request_error{"invalid input JSON: \"offset\" is required"};
  if (!has_limit) return request_error{"invalid input JSON: \"limit\" is required"};
  if (request.limit > max_limit) {
    return request_error{"\"limit\" must be at most " + std::to_string(max_limit)};
  }
  if (request.offset > static_cast<std::uint64_t>(INT64_MAX)) {
    return request_error{"\"offset\" is too large"};
  }
  if (auto error = names_error(request)) return *error;
  return request;
}

snapshot_parse_result parse_stream_request(const request_target& target) {
  snapshot_request request;
  request.slot_name = target.param("slotName");
  request.table = target.param("table");
  if (request.table.empty()) return request_error{"the \"table\" parameter is required"};
  const auto column = target.param("order_by");
  const auto direction = target.param("order");
  if (column.empty()) {
    if (!direction.empty()) return request_error{"\"order\" needs \"order_by\""};
  } else {
    snapshot_request::order order{column, sort_direction::ascending};
    if (!direction.empty()) {
      if (auto error = read_direction(direction, order.direction)) return *error;
    }
    request.order_by = std::move(order);
  }
  if (auto error = names_error(request)) return *error;
  return request;
}

}  // namespace deltastream::gateway
