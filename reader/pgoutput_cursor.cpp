#include "reader/pgoutput_cursor.hpp"

namespace deltastream::reader {

std::string_view pgoutput_cursor::string() {
  const auto end = bytes_.find('\0', at_);
  if (end == std::string_view::npos) throw protocol_error("pgoutput: unterminated string");
  const auto text = bytes_.substr(at_, end - at_);
  at_ = end + 1;
  return text;
}

std::string_view pgoutput_cursor::take(std::size_t count) {
  if (bytes_.size() - at_ < count) throw protocol_error("pgoutput: message cut short");
  const auto part = bytes_.substr(at_, count);
  at_ += count;
  return part;
}

tuple_values pgoutput_cursor::tuple() {
  tuple_values values(int16());
  for (auto& value : values) {
    switch (const char kind = static_cast<char>(byte())) {
      case 'n': value.state = tuple_column::kind::null; break;
      case 'u': value.state = tuple_column::kind::unchanged; break;
      case 't':
        value.state = tuple_column::kind::text;
        value.text = take(int32());
        break;
      default: throw protocol_error(std::string("pgoutput: unknown tuple column kind '") + kind + "'");
    }
  }
  return values;
}

std::uint32_t pgoutput_cursor::relation(relation_shape& shape) {
  const auto id = int32();
  shape.schema = string();
  if (shape.schema.empty()) shape.schema = "pg_catalog";
  shape.table = string();
  shape.replica_identity = static_cast<char>(byte());
  shape.columns.resize(int16());
  for (auto& column : shape.columns) {
    column.key = (byte() & 1) != 0;
    column.name = string();
    column.type.oid = int32();
    column.type.typmod = static_cast<std::int32_t>(int32());
  }
  return id;
}

}  // namespace deltastream::reader
