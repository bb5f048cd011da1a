#include <doctest/doctest.h>

#include "gateway/lag_history.hpp"

using namespace deltastream::gateway;
using namespace std::chrono;

namespace {

system_clock::time_point at(std::int64_t unix_seconds) { return system_clock::time_point(seconds(unix_seconds)); }

}  // namespace

TEST_CASE("lag history: samples per slot, oldest first, over the window only") {
  lag_history history(seconds(30));
  history.record(R"({"ok":true,"streams":[{"stream":"delta_a","lag_bytes":10},{"stream":"delta_b","lag_bytes":0}]})", at(1000));
  history.record(R"({"ok":true,"streams":[{"stream":"delta_a","lag_bytes":25},{"stream":"delta_b","lag_bytes":7}]})", at(1010));
  CHECK(history.json_of("delta_a", at(1010)) == "[[1000,10],[1010,25]]");
  CHECK(history.json_of("delta_b", at(1010)) == "[[1000,0],[1010,7]]");
  CHECK(history.json_of("delta_unknown", at(1010)) == "[]");

  // 30 s later the first sample is out of the window.
  history.record(R"({"ok":true,"streams":[{"stream":"delta_a","lag_bytes":40},{"stream":"delta_b","lag_bytes":7}]})", at(1030));
  CHECK(history.json_of("delta_a", at(1030)) == "[[1010,25],[1030,40]]");
  // With no new round (the reader stopped answering), the window still moves on.
  CHECK(history.json_of("delta_a", at(1045)) == "[[1030,40]]");
}

TEST_CASE("lag history: a slot no longer listed is forgotten, a reply that is not a list changes nothing") {
  lag_history history;
  history.record(R"({"ok":true,"streams":[{"stream":"delta_a","lag_bytes":10},{"stream":"delta_b","lag_bytes":5}]})", at(1000));
  history.record(R"({"ok":true,"streams":[{"stream":"delta_b","lag_bytes":6}]})", at(1010));
  CHECK(history.json_of("delta_a", at(1030)) == "[]");  // dropped: a new slot of that name starts afresh
  CHECK(history.json_of("delta_b", at(1030)) == "[[1000,5],[1010,6]]");

  history.record(R"({"ok":false,"error":"reader busy"})", at(1020));
  history.record("not json", at(1020));
  CHECK(history.json_of("delta_b", at(1030)) == "[[1000,5],[1010,6]]");
  // An item without a number is passed over, not recorded as 0.
  history.record(R"({"ok":true,"streams":[{"stream":"delta_b"},{"stream":"delta_c","lag_bytes":1}]})", at(1030));
  CHECK(history.json_of("delta_c", at(1030)) == "[[1030,1]]");
}
