#include <doctest/doctest.h>

#include "proto/control_message.hpp"

using namespace deltastream;
using namespace deltastream::proto;

TEST_CASE("control requests round trip") {
  control_request request;
  request.op = control_op::ack;
  request.id = "7";
  request.stream = "delta_x";
  request.ack_lsn = lsn(0x162D700);
  request.epoch = 1700000000123456;
  request.consumer = "gw-1-1";
  const auto decoded = decode_control_request(encode_control_request(request));
  REQUIRE(decoded.request);
  CHECK(decoded.request->op == control_op::ack);
  CHECK(decoded.request->id == "7");
  CHECK(decoded.request->stream == "delta_x");
  CHECK(decoded.request->ack_lsn == lsn(0x162D700));
  CHECK(decoded.request->epoch == 1700000000123456u);
  CHECK(decoded.request->consumer == "gw-1-1");

  request = {};
  request.op = control_op::attach;
  request.stream = "delta_y";
  request.restart = true;
  request.consumer = "gw-1-2";
  request.takeover = true;
  const auto attach = decode_control_request(encode_control_request(request));
  REQUIRE(attach.request);
  CHECK(attach.request->restart);
  CHECK(attach.request->consumer == "gw-1-2");
  CHECK(attach.request->takeover);

  request = {};
  request.op = control_op::hold;
  request.stream = "delta_y";
  request.consumer = "gw-1-2";
  request.pause = true;
  const auto hold = decode_control_request(encode_control_request(request));
  REQUIRE(hold.request);
  CHECK(hold.request->pause);

  request = {};
  request.op = control_op::create;
  request.plugin = "pgoutput";
  const auto create = decode_control_request(encode_control_request(request));
  REQUIRE(create.request);
  CHECK(create.request->plugin == "pgoutput");
  CHECK_FALSE(create.request->pause);
}

TEST_CASE("every op name parses back") {
  for (auto op : {control_op::create, control_op::drop, control_op::list, control_op::attach,
                  control_op::detach, control_op::ack, control_op::release, control_op::status,
                  control_op::hold, control_op::unhold}) {
    CHECK(parse_control_op(to_string(op)) == op);
  }
}

TEST_CASE("bad control requests are refused with a reason and keep the id") {
  struct example {
    const char* json;
    const char* error_part;
  };
  for (const auto& [json, error_part] : std::initializer_list<example>{
           {"", "not valid JSON"},
           {"{", "not valid JSON"},
           {"[]", "JSON object"},
           {R"({"id":"1"})", "missing \"op\""},
           {R"({"id":"1","op":"explode"})", "unknown op"},
           {R"({"id":"1","op":1})", "\"op\" must be a string"},
           {R"({"id":"1","op":"ack","stream":"delta_x","epoch":1})", "needs \"lsn\""},
           {R"({"id":"1","op":"ack","stream":"delta_x","lsn":"0/1"})", "needs \"epoch\""},
           {R"({"id":"1","op":"ack","stream":"delta_x","lsn":"0/1","epoch":-1})", "unsigned integer"},
           {R"({"id":"1","op":"ack","stream":"delta_x","lsn":"0/1","epoch":"7"})", "unsigned integer"},
           {R"({"id":"1","op":"ack","stream":"delta_x","lsn":"junk"})", "not a valid LSN"},
           {R"({"id":"1","op":"ack","stream":"delta_x","lsn":123})", "must be a string"},
           {R"({"id":"1","op":"attach"})", "needs \"stream\""},
           {R"({"id":"1","op":"attach","stream":"delta_x","restart":"yes"})", "boolean"},
           {R"({"id":"1","op":"hold","stream":"delta_x"})", "needs \"consumer\""},
           {R"({"id":"1","op":"hold","stream":"delta_x","consumer":""})", "non-empty"},
           {R"({"id":"1","op":"attach","stream":"delta_x","takeover":1})", "boolean"},
           {R"({"id":"1","op":"hold","stream":"delta_x","consumer":"c","pause":"yes"})", "boolean"},
           {R"({"id":"1","op":"create","plugin":"test_decoding"})", "\"wal2json\" or \"pgoutput\""},
           {R"({"id":"1","op":"create","plugin":1})", "\"wal2json\" or \"pgoutput\""},
       }) {
    CAPTURE(json);
    const auto decoded = decode_control_request(json);
    CHECK_FALSE(decoded.request);
    CHECK(decoded.error.find(error_part) != std::string::npos);
    if (std::string_view(json).find("\"id\":\"1\"") != std::string_view::npos) CHECK(decoded.id == "1");
  }
}

TEST_CASE("replies decode: attach position and consumer conflicts") {
  const auto attached = decode_control_reply(
      R"({"id":"3","ok":true,"stream":"delta_x","epoch":5,"seq":2,"start_lsn":"0/16B3748"})");
  CHECK(attached.ok);
  CHECK(attached.epoch == 5);
  CHECK(attached.seq == 2);
  CHECK(attached.start_lsn == lsn(0x16B3748));
  CHECK(attached.code == refusal_code::none);
  CHECK_FALSE(attached.ended_epoch);
  CHECK(decode_control_reply(R"({"id":"3","ok":true,"ended_epoch":4})").ended_epoch == 4u);

  const auto refused = decode_control_reply(
      R"({"id":"4","ok":false,"code":"conflict","error":"taken","retry_after_ms":4200})");
  CHECK_FALSE(refused.ok);
  CHECK(refused.code == refusal_code::conflict);
  CHECK(refused.retry_after_ms == 4200u);
  CHECK(refused.error == "taken");

  CHECK(decode_control_reply("nonsense").error.find("malformed") != std::string::npos);
}

TEST_CASE("replies carry id, the protocol version and ok") {
  CHECK(ok_reply("9").add("stream", "delta_x").str() == R"({"id":"9","protocol":2,"ok":true,"stream":"delta_x"})");
  CHECK(error_reply("9", refusal_code::no_such_stream, "no \"such\" stream") ==
        R"({"id":"9","protocol":2,"ok":false,"code":"no_such_stream","error":"no \"such\" stream"})");
  CHECK(decode_control_reply(ok_reply("9").str()).protocol == control_protocol);
  CHECK_FALSE(decode_control_reply(R"({"id":"9","ok":true})").protocol);  // a reader before version 2
}

TEST_CASE("a request names its protocol version; another version is refused, none is read as this one") {
  CHECK(encode_control_request({}).find("\"protocol\":2") != std::string::npos);
  CHECK(decode_control_request(R"({"op":"status","protocol":2})").request);
  CHECK(decode_control_request(R"({"op":"status"})").request);
  for (const char* other : {R"({"op":"status","protocol":1})", R"({"op":"status","protocol":3})",
                            R"({"op":"status","protocol":"2"})"}) {
    CAPTURE(other);
    const auto refused = decode_control_request(other);
    CHECK_FALSE(refused.request);
    CHECK(refused.error.find("is not this reader's (2)") != std::string::npos);
  }
}

TEST_CASE("create carries a row stream's tables as JSON") {
  const auto decoded = decode_control_request(
      R"({"op":"create","stream":"delta_v2_a","tables":[{"table":"t","where":"a > 1"}]})");
  REQUIRE(decoded.request);
  CHECK(decoded.request->tables == R"([{"table":"t","where":"a > 1"}])");
  CHECK(decode_control_request(encode_control_request(*decoded.request)).request->tables == decoded.request->tables);
  CHECK_FALSE(decode_control_request(R"({"op":"create","tables":{"table":"t"}})").request);
}

TEST_CASE("every refusal code parses back; one from a newer reader is 'unknown'") {
  for (auto code : {refusal_code::bad_request, refusal_code::no_such_stream, refusal_code::not_attached,
                    refusal_code::conflict, refusal_code::taken_over, refusal_code::stale_epoch,
                    refusal_code::beyond_delivered, refusal_code::no_snapshot, refusal_code::postgres}) {
    CHECK(parse_refusal_code(to_string(code)) == code);
    CHECK(decode_control_reply(error_reply("1", code, "x")).code == code);
  }
  CHECK(parse_refusal_code("exploded") == refusal_code::unknown);
}
