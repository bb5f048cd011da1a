#include "gateway/ack_message.hpp"

#include <simdjson.h>

namespace deltastream::gateway {

ack_parse_result parse_ack(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root)) {
    return std::string("ACK is not valid JSON: expected {\"lsn\":\"X/Y\"}");
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return std::string("ACK must be a JSON object: expected {\"lsn\":\"X/Y\"}");
  }
  simdjson::dom::element value;
  if (object["lsn"].get(value)) return std::string("ACK has no \"lsn\": expected {\"lsn\":\"X/Y\"}");
  std::string_view lsn_text;
  if (value.get_string().get(lsn_text)) {
    return std::string("\"lsn\" must be a string like \"0/16B3748\"");
  }
  const auto position = lsn::parse(lsn_text);
  if (!position) return "\"lsn\" is not a valid LSN: \"" + std::string(lsn_text.substr(0, 64)) + "\"";
  return *position;
}

}  // namespace deltastream::gateway
