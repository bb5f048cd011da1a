#include <doctest/doctest.h>

#include "gateway/snapshot_request.hpp"

using namespace deltastream::gateway;

namespace {
std::string error_of(std::string_view body, std::uint64_t max_limit = 1000) {
  const auto result = parse_snapshot_request(body, max_limit);
  REQUIRE(std::holds_alternative<request_error>(result));
  return std::get<request_error>(result).message;
}
}  // namespace

TEST_CASE("pgdeltastream's snapshot request parses") {
  const auto result = parse_snapshot_request(
      R"({"slotName":"delta_x","table":"public.t","offset":10,"limit":5,"order_by":{"column":"id","order":"DESC"}})",
      1000);
  const auto& request = std::get<snapshot_request>(result);
  CHECK(request.slot_name == "delta_x");
  CHECK(request.table == "public.t");
  CHECK(request.offset == 10);
  CHECK(request.limit == 5);
  REQUIRE(request.order_by);
  CHECK(request.order_by->column == "id");
  CHECK(request.order_by->direction == sort_direction::descending);
}

TEST_CASE("keys match case-insensitively, order_by is optional, unknown keys are ignored") {
  const auto parsed = parse_snapshot_request(
      R"({"Table":"t","OFFSET":0,"Limit":0,"extra":[1],"Order_By":{"Column":"c","order":"asc"}})", 10);
  const auto& request = std::get<snapshot_request>(parsed);
  CHECK(request.table == "t");
  CHECK(request.order_by->direction == sort_direction::ascending);
  CHECK_FALSE(std::get<snapshot_request>(parse_snapshot_request(R"({"table":"t","offset":0,"limit":1})", 10)).order_by);
  CHECK_FALSE(std::get<snapshot_request>(
                  parse_snapshot_request(R"({"table":"t","offset":0,"limit":1,"order_by":null})", 10))
                  .order_by);
}

TEST_CASE("bad snapshot requests say what is wrong") {
  CHECK(error_of("").find("invalid input JSON") == 0);
  CHECK(error_of("{").find("invalid input JSON") == 0);
  CHECK(error_of("[1]").find("invalid input JSON") == 0);
  CHECK(error_of(R"({"offset":0,"limit":1})").find("\"table\" is required") != std::string::npos);
  CHECK(error_of(R"({"table":"","offset":0,"limit":1})").find("\"table\" is required") != std::string::npos);
  CHECK(error_of(R"({"table":1,"offset":0,"limit":1})").find("must be a string") != std::string::npos);
  CHECK(error_of(R"({"table":"t","limit":1})").find("\"offset\" is required") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":0})").find("\"limit\" is required") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":-1,"limit":1})").find("non-negative integer") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":1.5,"limit":1})").find("non-negative integer") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":"1","limit":1})").find("non-negative integer") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":0,"limit":1001})").find("at most 1000") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":0,"limit":99999999999999999999})").find("malformed or out of range") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":184467440737095516150,"limit":1})").find("malformed or out of range") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":18446744073709551615,"limit":1})").find("too large") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":0,"limit":1,"order_by":{"order":"asc"}})") ==
        "required field 'column' missing in 'order_by'");
  CHECK(error_of(R"({"table":"t","offset":0,"limit":1,"order_by":{"column":"c","order":"sideways"}})") ==
        "order_by order direction can only be either 'ASC' or 'DESC'");
  CHECK(error_of(R"({"table":"t","offset":0,"limit":1,"order_by":{"column":"c"}})") ==
        "order_by order direction can only be either 'ASC' or 'DESC'");
  CHECK(error_of(R"({"table":"t","offset":0,"limit":1,"order_by":"id"})").find("must be an object") != std::string::npos);
  // libpq would read "orders" for "orders\0x": a NUL is refused, not cut off.
  CHECK(error_of(R"({"table":"orders\u0000x","offset":0,"limit":1})").find("NUL") != std::string::npos);
  CHECK(error_of(R"({"table":"t","offset":0,"limit":1,"order_by":{"column":"id\u0000","order":"asc"}})")
            .find("NUL") != std::string::npos);
}

TEST_CASE("the stream's query string: table required, order_by optional, order defaults to ASC") {
  const auto parse = [](std::string_view target) { return parse_stream_request(*parse_target(target)); };
  const auto plain = std::get<snapshot_request>(parse("/v1/snapshot/stream?table=public.t&slotName=delta_x"));
  CHECK(plain.table == "public.t");
  CHECK(plain.slot_name == "delta_x");
  CHECK_FALSE(plain.order_by);
  const auto ordered = std::get<snapshot_request>(parse("/v1/snapshot/stream?table=t&order_by=%22Id%22"));
  REQUIRE(ordered.order_by);
  CHECK(ordered.order_by->column == "\"Id\"");
  CHECK(ordered.order_by->direction == sort_direction::ascending);
  CHECK(std::get<snapshot_request>(parse("/s?table=t&order_by=id&order=desc")).order_by->direction ==
        sort_direction::descending);
  CHECK(std::get<request_error>(parse("/s?slotName=x")).message.find("\"table\"") != std::string::npos);
  CHECK(std::get<request_error>(parse("/s?table=t&order_by=id&order=up")).message ==
        "order_by order direction can only be either 'ASC' or 'DESC'");
  CHECK(std::holds_alternative<request_error>(parse("/s?table=t&order=asc")));
  CHECK(std::get<request_error>(parse("/s?table=orders%00x")).message.find("NUL") != std::string::npos);
  CHECK(std::get<request_error>(parse("/s?table=t&order_by=id%00")).message.find("NUL") != std::string::npos);
}
