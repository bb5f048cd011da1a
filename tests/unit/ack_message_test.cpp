#include <doctest/doctest.h>

#include "gateway/ack_message.hpp"

using namespace deltastream;
using deltastream::gateway::parse_ack;

TEST_CASE("an ACK is {\"lsn\":\"X/Y\"}") {
  CHECK(std::get<lsn>(parse_ack(R"({"lsn":"0/170FCB0"})")) == lsn(0x170FCB0));
  CHECK(std::get<lsn>(parse_ack(R"({"other":1,"lsn":"1/0"})")) == lsn(0x100000000ull));
}

TEST_CASE("malformed ACKs are refused with a reason, never thrown") {
  for (const char* bad : {"", "garbage", "[]", "{}", R"({"lsn":123})", R"({"lsn":null})",
                          R"({"lsn":"garbage"})", R"({"lsn":"0/1/2"})", R"({"lsn":"100000000/0"})",
                          "{\"lsn\":\"0/1\"", "\"0/1\""}) {
    CAPTURE(bad);
    const auto result = parse_ack(bad);
    REQUIRE(std::holds_alternative<std::string>(result));
    CHECK_FALSE(std::get<std::string>(result).empty());
  }
}
