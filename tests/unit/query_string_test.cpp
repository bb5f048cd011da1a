#include <doctest/doctest.h>

#include "gateway/query_string.hpp"

using deltastream::gateway::parse_target;

TEST_CASE("targets split into path and decoded parameters") {
  const auto target = parse_target("/v1/lr/stream?slotName=delta_x&mode=observe&empty=&flag");
  REQUIRE(target);
  CHECK(target->path == "/v1/lr/stream");
  CHECK(target->param("slotName") == "delta_x");
  CHECK(target->param("mode") == "observe");
  CHECK(target->param("empty").empty());
  CHECK(target->param("missing").empty());
  CHECK(parse_target("/a%20b?x=1%2B1+2")->param("x") == "1+1 2");
  CHECK(parse_target("/a%20b")->path == "/a b");
  CHECK(parse_target("/plain")->query.empty());
}

TEST_CASE("malformed escapes make the target invalid") {
  for (const char* bad : {"/a%", "/a%2", "/a%zz", "/?x=%", "/?x=%4", "/?%gg=1"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_target(bad));
  }
}
