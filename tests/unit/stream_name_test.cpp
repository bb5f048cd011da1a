#include <doctest/doctest.h>

#include <set>

#include "common/stream_name.hpp"

using deltastream::stream_name;

TEST_CASE("stream names are delta_ plus [a-z0-9_]") {
  CHECK(stream_name::parse("delta_wasteful33"));
  CHECK(stream_name::parse("delta_a"));
  CHECK(stream_name::parse(std::string("delta_") + std::string(57, 'x')));
  for (const char* bad : {"", "delta_", "delta", "my_delta_x", "Delta_x", "delta_X", "delta_x-y",
                          "delta_x;drop", "delta_\"x\"", "delta_ x"}) {
    CAPTURE(bad);
    CHECK_FALSE(stream_name::parse(bad));
  }
  CHECK_FALSE(stream_name::parse(std::string("delta_") + std::string(58, 'x')));
}

TEST_CASE("generated names are valid and distinct") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const auto name = stream_name::generate();
    CHECK(stream_name::parse(name.str()));
    seen.insert(name.str());
  }
  CHECK(seen.size() == 200);
}
