#include <doctest/doctest.h>

#include <string>

#include "reader/subscription_set.hpp"

using deltastream::reader::subscription_set;

namespace {
std::string notice(char kind, const std::string& prefix) { return std::string(1, kind) + prefix; }
const std::string topic_a("delta_a\0", 8);
}  // namespace

TEST_CASE("subscriptions follow the XPUB's notices; a prefix covers the topics it starts") {
  subscription_set set;
  CHECK_FALSE(set.covers(topic_a));
  CHECK(set.apply(notice(1, topic_a)));
  CHECK(set.covers(topic_a));
  CHECK_FALSE(set.covers(std::string("delta_ab\0", 9)));  // the NUL keeps streams apart
  CHECK_FALSE(set.apply(notice(1, topic_a)));              // already there: no change
  CHECK(set.apply(notice(0, topic_a)));
  CHECK_FALSE(set.covers(topic_a));
  CHECK_FALSE(set.apply(notice(0, topic_a)));  // not there: no change

  CHECK(set.apply(notice(1, "")));  // everything
  CHECK(set.covers(topic_a));
  // A marker matches no topic (it is longer than the topic it starts with).
  CHECK(set.apply(notice(1, topic_a + "gw-1")));
  CHECK(set.contains(topic_a + "gw-1"));
  CHECK(set.apply(notice(0, "")));
  CHECK_FALSE(set.covers(topic_a));

  CHECK_FALSE(set.apply(""));                  // empty: not a notice
  CHECK_FALSE(set.apply(notice(7, topic_a)));  // a message of another kind
}
