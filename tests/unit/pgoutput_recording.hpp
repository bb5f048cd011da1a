#pragma once

// The pgoutput messages tests/golden/pgoutput/record.py recorded from PostgreSQL 15: what
// the tests of both pgoutput decoders (wal2json's bytes, row events) are fed.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/lsn.hpp"
#include "reader/type_names.hpp"

namespace deltastream::testing {

inline const std::string golden_pgoutput = std::string(DELTASTREAM_GOLDEN_DIR) + "/pgoutput/";

// The lines of a file of tests/golden/pgoutput.
inline std::vector<std::string> golden_lines(const std::string& file) {
  std::ifstream in(golden_pgoutput + file, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open " << golden_pgoutput + file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct recorded_message {
  lsn at;
  std::string bytes;
};

// messages.tsv: one message a line, its LSN, a tab, its bytes in hex.
inline std::vector<recorded_message> recorded_messages() {
  std::vector<recorded_message> messages;
  for (const auto& line : golden_lines("messages.tsv")) {
    const auto tab = line.find('\t');
    recorded_message message{*lsn::parse(line.substr(0, tab)), {}};
    for (std::size_t i = tab + 1; i + 1 < line.size(); i += 2) {
      message.bytes.push_back(static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16)));
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

// types.tsv: format_type(oid, typmod) of every column type the Relation messages name.
inline std::map<reader::type_key, std::string> recorded_types() {
  std::map<reader::type_key, std::string> types;
  for (const auto& line : golden_lines("types.tsv")) {
    std::istringstream fields(line);
    reader::type_key key;
    std::string name;
    fields >> key.oid >> key.typmod;
    fields.ignore(1);
    std::getline(fields, name);
    types[key] = name;
  }
  return types;
}

}  // namespace deltastream::testing
