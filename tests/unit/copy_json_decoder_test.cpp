#include <doctest/doctest.h>

#include <string>

#include "common/errors.hpp"
#include "gateway/copy_json_decoder.hpp"

using namespace deltastream;
using namespace deltastream::gateway;

namespace {

std::string header(std::string extension = "") {
  std::string bytes("PGCOPY\n\377\r\n\0", 11);
  bytes += std::string("\0\0\0\0", 4);
  const auto n = static_cast<unsigned>(extension.size());
  bytes += {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
            static_cast<char>(n)};
  return bytes + extension;
}

std::string tuple(const std::string& json) {
  const auto n = static_cast<unsigned>(json.size());
  return std::string("\0\1", 2) +
         std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                     static_cast<char>(n)} +
         json;
}

const std::string trailer("\xff\xff", 2);

}  // namespace

TEST_CASE("binary COPY of json rows becomes NDJSON, whole messages") {
  copy_json_decoder decoder;
  std::string lines;
  CHECK(decoder.feed(header() + tuple(R"({"id":1})"), lines) == copy_json_decoder::status::need_more);
  CHECK(decoder.feed(tuple(R"({"a":"x\\"y"})"), lines) == copy_json_decoder::status::need_more);
  CHECK(decoder.feed(trailer, lines) == copy_json_decoder::status::done);
  CHECK(lines == "{\"id\":1}\n{\"a\":\"x\\\\\"y\"}\n");
}

TEST_CASE("any split of the bytes gives the same lines") {
  const std::string all = header("ext") + tuple(R"({"id":1})") + tuple("") + tuple(R"([2])") + trailer;
  for (std::size_t cut = 0; cut <= all.size(); ++cut) {
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, all.size()}) {
      copy_json_decoder decoder;
      std::string lines;
      auto status = decoder.feed(std::string_view(all).substr(0, cut), lines);
      for (std::size_t at = cut; at < all.size(); at += step) {
        status = decoder.feed(std::string_view(all).substr(at, step), lines);
      }
      CHECK(status == copy_json_decoder::status::done);
      CHECK(lines == "{\"id\":1}\n\n[2]\n");
    }
  }
}

TEST_CASE("an empty table is a header and a trailer; NULL is null") {
  copy_json_decoder decoder;
  std::string lines;
  CHECK(decoder.feed(header() + trailer, lines) == copy_json_decoder::status::done);
  CHECK(lines.empty());
  copy_json_decoder nulls;
  CHECK(nulls.feed(header() + std::string("\0\1\xff\xff\xff\xff", 6) + trailer, lines) ==
        copy_json_decoder::status::done);
  CHECK(lines == "null\n");
}

TEST_CASE("malformed binary COPY throws protocol_error") {
  std::string lines;
  CHECK_THROWS_AS(copy_json_decoder().feed(std::string(19, 'x'), lines), protocol_error);
  CHECK_THROWS_AS(copy_json_decoder().feed(header() + std::string("\0\2", 2), lines), protocol_error);
  CHECK_THROWS_AS(copy_json_decoder().feed(header() + trailer + "x", lines), protocol_error);
  CHECK_THROWS_AS(copy_json_decoder().feed(header() + std::string("\0\1\x80\0\0\0", 6), lines),
                  protocol_error);
  copy_json_decoder done;
  done.feed(header() + trailer, lines);
  CHECK_THROWS_AS(done.feed(tuple("{}"), lines), protocol_error);
}
