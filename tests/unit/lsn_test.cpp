#include <doctest/doctest.h>

#include "common/lsn.hpp"

using deltastream::lsn;

TEST_CASE("lsn parses PostgreSQL's X/Y form") {
  CHECK(lsn::parse("0/0")->value() == 0);
  CHECK(lsn::parse("0/16B3748")->value() == 0x16B3748);
  CHECK(lsn::parse("1/0")->value() == 0x100000000ull);
  CHECK(lsn::parse("FFFFFFFF/FFFFFFFF")->value() == ~0ull);
  CHECK(lsn::parse("abc/def")->value() == 0xABC00000DEFull);
}

TEST_CASE("lsn rejects junk") {
  for (const char* junk : {"", "/", "0/", "/0", "0", "garbage", "0/1/2", "G/0", "0/G",
                           "100000000/0", "0/100000000", " 0/1", "0/1 ", "-1/0", "0x1/0",
                           "0/+1"}) {
    CAPTURE(junk);
    CHECK_FALSE(lsn::parse(junk).has_value());
  }
}

TEST_CASE("lsn formats as uppercase hex and round-trips") {
  CHECK(lsn(0x16B3748).to_string() == "0/16B3748");
  CHECK(lsn(0xABC00000DEFull).to_string() == "ABC/DEF");
  for (std::uint64_t value : {0ull, 1ull, 0xFFFFFFFFull, 0x100000000ull, ~0ull, 0x1234567890ull}) {
    CHECK(lsn::parse(lsn(value).to_string())->value() == value);
  }
}

TEST_CASE("lsn orders by position") {
  CHECK(lsn(1) < lsn(2));
  CHECK(*lsn::parse("1/0") > *lsn::parse("0/FFFFFFFF"));
}
