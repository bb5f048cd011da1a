#include <doctest/doctest.h>

#include "gateway/refusal_log.hpp"

using deltastream::gateway::refusal_log;
using namespace std::chrono_literals;

TEST_CASE("refusals are logged up to a rate; the next line says how many were held back") {
  refusal_log log(3);
  const auto start = refusal_log::clock::time_point{} + 100s;
  std::size_t held_back = 99;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(log.admit(start + std::chrono::milliseconds(i), held_back));
    CHECK(held_back == 0);
  }
  CHECK_FALSE(log.admit(start + 10ms, held_back));
  CHECK_FALSE(log.admit(start + 900ms, held_back));
  REQUIRE(log.admit(start + 1s, held_back));  // a new second
  CHECK(held_back == 2);
  REQUIRE(log.admit(start + 1100ms, held_back));
  CHECK(held_back == 0);
}
