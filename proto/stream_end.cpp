#include "proto/stream_end.hpp"

#include <array>
#include <utility>

#include <simdjson.h>

#include "common/json_writer.hpp"
#include "proto/enum_names.hpp"

namespace deltastream::proto {

namespace {

constexpr enum_names<end_code, 5> end_names = {{
    {end_code::detached, "detached"},
    {end_code::restarted, "restarted"},
    {end_code::dropped, "dropped"},
    {end_code::connection_lost, "connection_lost"},
    {end_code::shutdown, "shutdown"},
}};

}  // namespace

std::string_view to_string(end_code code) { return name_of(end_names, code).value_or("unknown"); }

std::string encode_stream_end(end_code code, std::string_view reason) {
  return json_object().add("code", to_string(code)).add("reason", reason).str();
}

stream_end_notice decode_stream_end(std::string_view payload) {
  stream_end_notice notice;
  notice.reason = std::string(payload);
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(payload.data(), payload.size(), /*realloc_if_needed=*/true).get_object().get(object)) {
    return notice;
  }
  std::string_view text;
  if (!object["reason"].get_string().get(text)) notice.reason = std::string(text);
  if (!object["code"].get_string().get(text)) notice.code = value_of(end_names, text).value_or(end_code::unknown);
  return notice;
}

}  // namespace deltastream::proto
