#include <doctest/doctest.h>

#include <poll.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "reader/ack_journal.hpp"

using deltastream::config_error;
using deltastream::lsn;
using deltastream::reader::ack_journal;

namespace {

struct scratch_directory {
  scratch_directory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ack-journal-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~scratch_directory() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits (at most 10 s) until the journal says a write is durable, and takes it.
ack_journal::positions next_durable(ack_journal& journal) {
  pollfd ready{journal.notice_fd(), POLLIN, 0};
  REQUIRE(::poll(&ready, 1, 10'000) == 1);
  return journal.take_durable();
}

}  // namespace

TEST_CASE("a recorded position becomes durable, in the file, and is read back by the next reader") {
  scratch_directory scratch;
  const auto file = scratch.path / "acks";
  {
    ack_journal journal(file);
    CHECK(read_text(file) == "deltastream acknowledged positions v1\n");  // written at start
    journal.record("delta_a", lsn(0x2A0));
    journal.record("delta_a", lsn(0x100));  // never backwards
    CHECK(journal.position("delta_a") == lsn(0x2A0));
    auto durable = next_durable(journal);
    while (durable.size() != 1) durable = next_durable(journal);
    CHECK(durable.at("delta_a") == lsn(0x2A0));
    CHECK(read_text(file) == "deltastream acknowledged positions v1\ndelta_a 0/2A0\n");
    journal.record("delta_b", lsn(0x1'0000'0010));
  }  // the destructor writes what was recorded last
  ack_journal again(file);
  CHECK(again.position("delta_a") == lsn(0x2A0));
  CHECK(again.position("delta_b") == lsn(0x1'0000'0010));
  again.forget("delta_a");
  CHECK_FALSE(again.position("delta_a"));
  while (next_durable(again).contains("delta_a")) {
  }
  CHECK(read_text(file).find("delta_a") == std::string::npos);
}

TEST_CASE("a journal that cannot be read is started anew, one that cannot be written stops the start") {
  scratch_directory scratch;
  const auto file = scratch.path / "acks";
  std::ofstream(file) << "delta_a 0/2A0\n";  // no header: not ours, or damaged
  ack_journal journal(file);
  CHECK_FALSE(journal.position("delta_a"));
  CHECK_THROWS_AS(ack_journal(scratch.path / "missing" / "acks"), config_error);
}
