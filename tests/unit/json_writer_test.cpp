#include <doctest/doctest.h>

#include "common/json_writer.hpp"

using namespace deltastream;

TEST_CASE("json strings escape quotes, backslashes and control characters") {
  std::string out;
  append_json_string(out, std::string_view("a\"b\\c\nd\x01", 8));
  CHECK(out == "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST_CASE("json_object builds one flat object") {
  const auto text = json_object()
                        .add("s", "x")
                        .add("n", std::int64_t{-3})
                        .add("u", std::uint64_t{18446744073709551615ull})
                        .add("b", false)
                        .raw("a", "[1,2]")
                        .str();
  CHECK(text == R"({"s":"x","n":-3,"u":18446744073709551615,"b":false,"a":[1,2]})");
  CHECK(json_object().str() == "{}");
}
