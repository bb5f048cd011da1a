#pragma once

#include <string>
#include <string_view>

namespace deltastream::gateway {

// Turns the binary COPY output of a query with one json column into NDJSON: one line
// per row, the json's text as PostgreSQL wrote it. Sans-I/O: feed it each CopyData
// payload as it comes, in any split. Layout (PostgreSQL docs, "COPY", Binary Format;
// integers big-endian):
//   header   "PGCOPY\n\377\r\n\0" (11 bytes), int32 flags, int32 extension length, extension
//   tuple    int16 field count (1 here), int32 field length (-1: NULL), the bytes
//   trailer  int16 -1
// Throws protocol_error on anything else (bytes after the trailer included).
class copy_json_decoder {
 public:
  enum class status { need_more, done };

  // Appends the complete rows in `bytes` (and in what came before) to `lines`.
  status feed(std::string_view bytes, std::string& lines);

 private:
  // Consumes what it can from `bytes`; returns how many bytes it used.
  std::size_t decode(std::string_view bytes, std::string& lines);

  enum class stage { header, tuples, done };
  stage stage_ = stage::header;
  std::string pending_;  // an incomplete header or tuple, waiting for its rest
};

}  // namespace deltastream::gateway
