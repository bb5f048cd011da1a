#include <doctest/doctest.h>

#include "common/logging.hpp"

using deltastream::printable;

TEST_CASE("text a client sent cannot forge a log line, nor fill one") {
  CHECK(printable("delta_ok") == "delta_ok");
  CHECK(printable("x\n2026-11-25 [info] forged") == "x\\x0a2026-11-25 [info] forged");
  CHECK(printable(std::string_view("a\0b\r\x7f", 5)) == "a\\x00b\\x0d\\x7f");
  CHECK(printable(std::string(500, 'y'), 10) == std::string(10, 'y') + "...");
  CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 passes
}
