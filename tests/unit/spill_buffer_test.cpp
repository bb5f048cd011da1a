#include <doctest/doctest.h>

#include "reader/spill_buffer.hpp"

using deltastream::reader::spill_buffer;

namespace {

std::string read_all(spill_buffer& buffer, std::size_t step) {
  std::string out;
  while (buffer.read(out, step)) {
  }
  return out;
}

}  // namespace

TEST_CASE("a spill buffer gives back in order what went to memory and to its file") {
  spill_buffer buffer(16);
  std::string want;
  for (int i = 0; i < 100; ++i) {
    const auto item = "item " + std::to_string(i) + ";";
    buffer.tail() += item;
    buffer.settle();
    want += item;
  }
  CHECK(buffer.spilled());
  CHECK(buffer.tail().size() < 16);
  CHECK(buffer.size() == want.size());
  CHECK(read_all(buffer, 7) == want);

  buffer.clear();  // the next transaction starts empty, in memory
  CHECK(buffer.size() == 0);
  CHECK_FALSE(buffer.spilled());
  buffer.tail() += "small";
  buffer.settle();
  CHECK_FALSE(buffer.spilled());
  CHECK(read_all(buffer, 1000) == "small");
}

TEST_CASE("an empty spill buffer reads nothing") {
  spill_buffer buffer(16);
  std::string out;
  CHECK_FALSE(buffer.read(out, 10));
  CHECK(out.empty());
}
