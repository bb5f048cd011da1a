#include "proto/control_message.hpp"

#include <array>
#include <utility>

#include <simdjson.h>

#include "proto/enum_names.hpp"

namespace deltastream::proto {

namespace {

constexpr enum_names<control_op, 10> op_names = {{
    {control_op::create, "create"},
    {control_op::drop, "drop"},
    {control_op::list, "list"},
    {control_op::attach, "attach"},
    {control_op::detach, "detach"},
    {control_op::ack, "ack"},
    {control_op::release, "release"},
    {control_op::status, "status"},
    {control_op::hold, "hold"},
    {control_op::unhold, "unhold"},
}};

constexpr enum_names<refusal_code, 10> refusal_names = {{
    {refusal_code::bad_request, "bad_request"},
    {refusal_code::no_such_stream, "no_such_stream"},
    {refusal_code::not_attached, "not_attached"},
    {refusal_code::conflict, "conflict"},
    {refusal_code::taken_over, "taken_over"},
    {refusal_code::stale_epoch, "stale_epoch"},
    {refusal_code::beyond_delivered, "beyond_delivered"},
    {refusal_code::no_snapshot, "no_snapshot"},
    {refusal_code::postgres, "postgres"},
    {refusal_code::unknown, "unknown"},
}};

bool needs_stream(control_op op) {
  return op == control_op::drop || op == control_op::attach || op == control_op::detach ||
         op == control_op::ack || op == control_op::release || op == control_op::hold ||
         op == control_op::unhold;
}

bool needs_consumer(control_op op) { return op == control_op::hold || op == control_op::unhold; }

}  // namespace

std::string_view to_string(control_op op) { return name_of(op_names, op).value_or("unknown"); }

std::optional<control_op> parse_control_op(std::string_view text) { return value_of(op_names, text); }

std::string_view to_string(refusal_code code) { return name_of(refusal_names, code).value_or("none"); }

refusal_code parse_refusal_code(std::string_view text) {
  return value_of(refusal_names, text).value_or(refusal_code::unknown);
}

decoded_request decode_control_request(std::string_view json) {
  decoded_request result;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size(), /*realloc_if_needed=*/true).get(root)) {
    result.error = "request is not valid JSON";
    return result;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    result.error = "request must be a JSON object";
    return result;
  }
  control_request request;
  std::string_view text;
  for (auto field : object) {
    const std::string_view key = field.key;
    if (key == "id") {
      if (field.value.get_string().get(text)) {
        result.error = "\"id\" must be a string";
        return result;
      }
      request.id = result.id = std::string(text);
    } else if (key == "op") {
      if (field.value.get_string().get(text)) {
        result.error = "\"op\" must be a string";
        return result;
      }
      const auto op = parse_control_op(text);
      if (!op) {
        result.error = "unknown op \"" + std::string(text) + "\"";
        return result;
      }
      request.op = *op;
    } else if (key == "stream") {
      if (field.value.get_string().get(text)) {
        result.error = "\"stream\" must be a string";
        return result;
      }
      request.stream = std::string(text);
    } else if (key == "lsn") {
      if (field.value.get_string().get(text)) {
        result.error = "\"lsn\" must be a string like \"0/16B3748\"";
        return result;
      }
      request.ack_lsn = lsn::parse(text);
      if (!request.ack_lsn) {
        result.error = "\"lsn\" is not a valid LSN: \"" + std::string(text) + "\"";
        return result;
      }
    } else if (key == "epoch") {
      std::uint64_t epoch = 0;
      if (field.value.get_uint64().get(epoch)) {
        result.error = "\"epoch\" must be an unsigned integer";
        return result;
      }
      request.epoch = epoch;
    } else if (key == "restart") {
      bool restart = false;
      if (field.value.get_bool().get(restart)) {
        result.error = "\"restart\" must be a boolean";
        return result;
      }
      request.restart = restart;
    } else if (key == "consumer") {
      if (field.value.get_string().get(text) || text.empty()) {
        result.error = "\"consumer\" must be a non-empty string";
        return result;
      }
      request.consumer = std::string(text);
    } else if (key == "marker") {
      if (field.value.get_string().get(text) || text.empty()) {
        result.error = "\"marker\" must be a non-empty string";
        return result;
      }
      request.marker = std::string(text);
    } else if (key == "plugin") {
      if (field.value.get_string().get(text) || (text != "wal2json" && text != "pgoutput")) {
        result.error = "\"plugin\" must be \"wal2json\" or \"pgoutput\"";
        return result;
      }
      request.plugin = std::string(text);
    } else if (key == "pause") {
      bool pause = false;
      if (field.value.get_bool().get(pause)) {
        result.error = "\"pause\" must be a boolean";
        return result;
      }
      request.pause = pause;
    } else if (key == "protocol") {
      std::uint64_t version = 0;
      if (field.value.get_uint64().get(version) || version != control_protocol) {
        result.error = "control protocol " + simdjson::minify(field.value) + " is not this reader's (" +
                       std::to_string(control_protocol) + "): run a gateway or tool of the same release";
        return result;
      }
    } else if (key == "tables") {
      if (!field.value.is_array()) {
        result.error = "\"tables\" must be an array";
        return result;
      }
      request.tables = simdjson::minify(field.value);
    } else if (key == "takeover") {
      bool takeover = false;
      if (field.value.get_bool().get(takeover)) {
        result.error = "\"takeover\" must be a boolean";
        return result;
      }
      request.takeover = takeover;
    }
    // Unknown keys are ignored so that newer clients can talk to older readers.
  }
  if (object["op"].error()) {
    result.error = "missing \"op\"";
    return result;
  }
  if (needs_stream(request.op) && request.stream.empty()) {
    result.error = "op \"" + std::string(to_string(request.op)) + "\" needs \"stream\"";
    return result;
  }
  if (needs_consumer(request.op) && request.consumer.empty()) {
    result.error = "op \"" + std::string(to_string(request.op)) + "\" needs \"consumer\"";
    return result;
  }
  if (request.op == control_op::ack && !request.ack_lsn) {
    result.error = "op \"ack\" needs \"lsn\"";
    return result;
  }
  if (request.op == control_op::ack && !request.epoch) {
    result.error = "op \"ack\" needs \"epoch\" (the epoch the message was delivered in)";
    return result;
  }
  result.request = std::move(request);
  return result;
}

std::string encode_control_request(const control_request& request) {
  json_object out;
  out.add("op", to_string(request.op));
  out.add("protocol", control_protocol);
  if (!request.id.empty()) out.add("id", request.id);
  if (!request.stream.empty()) out.add("stream", request.stream);
  if (request.ack_lsn) out.add("lsn", request.ack_lsn->to_string());
  if (request.epoch) out.add("epoch", *request.epoch);
  if (request.restart) out.add("restart", true);
  if (!request.consumer.empty()) out.add("consumer", request.consumer);
  if (request.takeover) out.add("takeover", true);
  if (!request.marker.empty()) out.add("marker", request.marker);
  if (!request.plugin.empty()) out.add("plugin", request.plugin);
  if (request.pause) out.add("pause", true);
  if (!request.tables.empty()) out.raw("tables", request.tables);
  return out.str();
}

control_reply decode_control_reply(std::string_view json) {
  control_reply reply;
  reply.json = std::string(json);
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json.data(), json.size(), /*realloc_if_needed=*/true).get_object().get(object)) {
    reply.error = "the reader sent a malformed reply";
    return reply;
  }
  std::string_view text;
  bool ok = false;
  if (!object["ok"].get_bool().get(ok)) reply.ok = ok;
  if (!object["id"].get_string().get(text)) reply.id = std::string(text);
  if (!object["error"].get_string().get(text)) reply.error = std::string(text);
  if (!object["code"].get_string().get(text)) reply.code = parse_refusal_code(text);
  if (!object["sqlstate"].get_string().get(text)) reply.sqlstate = std::string(text);
  if (!object["stream"].get_string().get(text)) reply.stream = std::string(text);
  if (!object["snapshot"].get_string().get(text)) reply.snapshot = std::string(text);
  if (!object["start_lsn"].get_string().get(text)) {
    if (const auto position = lsn::parse(text)) reply.start_lsn = *position;
  }
  std::uint64_t number = 0;
  if (!object["epoch"].get_uint64().get(number)) reply.epoch = number;
  if (!object["seq"].get_uint64().get(number)) reply.seq = number;
  if (!object["retry_after_ms"].get_uint64().get(number)) reply.retry_after_ms = number;
  if (!object["protocol"].get_uint64().get(number)) reply.protocol = number;
  if (!object["ended_epoch"].get_uint64().get(number)) reply.ended_epoch = number;
  if (!reply.ok && reply.error.empty()) reply.error = "the reader refused the request";
  return reply;
}

json_object ok_reply(std::string_view id) {
  json_object out;
  out.add("id", id);
  out.add("protocol", control_protocol);
  out.add("ok", true);
  return out;
}

json_object refusal(std::string_view id, refusal_code code, std::string_view message) {
  json_object out;
  out.add("id", id);
  out.add("protocol", control_protocol);
  out.add("ok", false);
  out.add("code", to_string(code));
  out.add("error", message);
  return out;
}

std::string error_reply(std::string_view id, refusal_code code, std::string_view message) {
  return refusal(id, code, message).str();
}

}  // namespace deltastream::proto
