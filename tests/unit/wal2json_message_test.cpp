#include <doctest/doctest.h>

#include "reader/wal2json_message.hpp"

using namespace deltastream;
using deltastream::reader::wal2json_next_lsn;

TEST_CASE("nextlsn is read from the head of a wal2json v1 message") {
  CHECK(wal2json_next_lsn(R"({"nextlsn":"0/162D700","change":[]})") == lsn(0x162D700));
  CHECK(wal2json_next_lsn(R"({"xid":754,"timestamp":"2020-01-01 00:00:00+00","nextlsn":"1/A","change":[]})") ==
        lsn(0x10000000Aull));
  CHECK(wal2json_next_lsn("{\"nextlsn\": \"0/5\",\"change\":[]}") == lsn(5));
}

TEST_CASE("no nextlsn, or one only inside the changes, is not taken") {
  CHECK_FALSE(wal2json_next_lsn(R"({"change":[]})"));
  CHECK_FALSE(wal2json_next_lsn(R"({"change":[{"columnvalues":["\"nextlsn\":\"0/1\""]}]})"));
  CHECK_FALSE(wal2json_next_lsn(R"({"nextlsn":"junk","change":[]})"));
  CHECK_FALSE(wal2json_next_lsn(R"({"nextlsn":"0/1)"));
  CHECK_FALSE(wal2json_next_lsn(""));
}

TEST_CASE("empty transactions are recognised") {
  using deltastream::reader::wal2json_is_empty;
  CHECK(wal2json_is_empty(R"({"nextlsn":"0/162FBF0","change":[]})"));
  CHECK_FALSE(wal2json_is_empty(R"({"nextlsn":"0/1","change":[{"kind":"insert"}]})"));
  CHECK_FALSE(wal2json_is_empty(R"({"nextlsn":"0/1","change":[{"columnvalues":["\"change\":[]}"]}]})"));
}

TEST_CASE("the chunk that completes a message is recognised") {
  using deltastream::reader::wal2json_ends_message;
  // write-in-chunks: begin, one chunk per change, then the close.
  CHECK_FALSE(wal2json_ends_message(R"({"nextlsn":"0/CE4B230","change":[)", true));
  CHECK_FALSE(wal2json_ends_message(R"({"kind":"insert","columnvalues":[1,"a"]})", false));
  CHECK_FALSE(wal2json_ends_message(R"(,{"kind":"insert","columnvalues":[2]})", false));
  CHECK(wal2json_ends_message("]}", false));
  // A wal2json that sends the transaction whole: its only chunk completes it.
  CHECK(wal2json_ends_message(R"({"nextlsn":"0/1","change":[]})", true));
  CHECK(wal2json_ends_message(R"({"nextlsn":"0/1","change":[{"kind":"insert"}]})", true));
}
