#include <doctest/doctest.h>

#include "reader/consumer_leases.hpp"

using deltastream::reader::consumer_leases;
using namespace std::chrono_literals;

TEST_CASE("a stream has one consumer until its lease is released, taken over or expires") {
  consumer_leases leases;
  const auto start = consumer_leases::clock::now();
  CHECK_FALSE(leases.claim("delta_a", "gw1-1", false, start));
  CHECK_FALSE(leases.claim("delta_a", "gw1-1", false, start + 1s));  // the holder again
  CHECK_FALSE(leases.claim("delta_b", "gw2-1", false, start));       // another stream

  const auto refused = leases.claim("delta_a", "gw2-7", false, start + 2s);
  REQUIRE(refused);
  CHECK(refused->holder == "gw1-1");
  CHECK(refused->retry_after == 4s);  // claimed again at +1 s, lasts 5 s

  CHECK(leases.renew("delta_a", "gw1-1", start + 4s));
  CHECK(leases.claim("delta_a", "gw2-7", false, start + 8s));  // renewed: still held
  CHECK_FALSE(leases.claim("delta_a", "gw2-7", false, start + 9s + 1ms));  // expired: granted
  CHECK_FALSE(leases.renew("delta_a", "gw1-1", start + 10s));  // the old holder learns it

  CHECK_FALSE(leases.claim("delta_a", "gw1-2", true, start + 10s));  // takeover
  leases.release("delta_a", "gw2-7");  // not the holder any more: changes nothing
  CHECK(leases.claim("delta_a", "gw3-1", false, start + 11s));
  leases.release("delta_a", "gw1-2");
  CHECK_FALSE(leases.claim("delta_a", "gw3-1", false, start + 11s));

  leases.forget("delta_a");
  CHECK_FALSE(leases.claim("delta_a", "gw4-1", false, start + 11s));
}

TEST_CASE("renewing a lease the reader forgot (it restarted) takes it back") {
  consumer_leases leases;
  const auto now = consumer_leases::clock::now();
  CHECK(leases.renew("delta_a", "gw1-1", now));
  CHECK(leases.claim("delta_a", "gw2-1", false, now + 1s));
}

TEST_CASE("check changes nothing: only grant, after a successful attach, holds the stream") {
  consumer_leases leases;
  const auto now = consumer_leases::clock::now();
  CHECK_FALSE(leases.check("delta_a", "gw1-1", false, now));
  CHECK_FALSE(leases.holder("delta_a", now));
  CHECK_FALSE(leases.check("delta_a", "gw2-1", false, now));  // gw1-1 never got it
  leases.grant("delta_a", "gw1-1", now);
  CHECK(leases.holder("delta_a", now + 4s) == "gw1-1");
  CHECK(leases.check("delta_a", "gw2-1", false, now + 1s));
  CHECK_FALSE(leases.check("delta_a", "gw2-1", true, now + 1s));  // takeover may
  CHECK(leases.holder("delta_a", now + 1s) == "gw1-1");           // ... once granted
  CHECK_FALSE(leases.holder("delta_a", now + 5s));                // a lapsed lease holds nothing
}
