#include "reader/json_value_writer.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "reader/wal2json_writer.hpp"

namespace deltastream::reader {

namespace {

// Every built-in array type (pg_type with typcategory 'A', PostgreSQL 15), sorted by OID:
// its element type and the delimiter of its text. int2vector (22) and oidvector (30) are
// true arrays to to_json, but their output functions separate items by spaces.
struct builtin_array {
  std::uint32_t oid;
  std::uint32_t element;
  char delimiter = ',';
};
constexpr builtin_array builtin_arrays[] = {
    {22, 21, ' '}, {30, 26, ' '}, {143, 142}, {199, 114}, {210, 71}, {270, 75}, {271, 5069},
    {272, 81}, {273, 83}, {629, 628}, {651, 650}, {719, 718}, {775, 774}, {791, 790}, {1000, 16},
    {1001, 17}, {1002, 18}, {1003, 19}, {1005, 21}, {1006, 22}, {1007, 23}, {1008, 24}, {1009, 25},
    {1010, 27}, {1011, 28}, {1012, 29}, {1013, 30}, {1014, 1042}, {1015, 1043}, {1016, 20},
    {1017, 600}, {1018, 601}, {1019, 602}, {1020, 603, ';'}, {1021, 700}, {1022, 701}, {1027, 604},
    {1028, 26}, {1034, 1033}, {1040, 829}, {1041, 869}, {1115, 1114}, {1182, 1082}, {1183, 1083},
    {1185, 1184}, {1187, 1186}, {1231, 1700}, {1263, 2275}, {1270, 1266}, {1561, 1560},
    {1563, 1562}, {2201, 1790}, {2207, 2202}, {2208, 2203}, {2209, 2204}, {2210, 2205},
    {2211, 2206}, {2949, 2970}, {2951, 2950}, {3221, 3220}, {3643, 3614}, {3644, 3642},
    {3645, 3615}, {3735, 3734}, {3770, 3769}, {3807, 3802}, {3905, 3904}, {3907, 3906},
    {3909, 3908}, {3911, 3910}, {3913, 3912}, {3927, 3926}, {4073, 4072}, {4090, 4089},
    {4097, 4096}, {4192, 4191}, {5039, 5038}, {6150, 4451}, {6151, 4532}, {6152, 4533},
    {6153, 4534}, {6155, 4535}, {6157, 4536},
};

// json_categorize_type's fixed cases (catalog/pg_type.dat OIDs). Not oid, not money.
json_kind scalar_kind(std::uint32_t oid) {
  switch (oid) {
    case 16: return json_kind::boolean;
    case 20: case 21: case 23: case 700: case 701: case 1700: return json_kind::number;
    case 114: case 3802: return json_kind::json;
    case 1082: return json_kind::date;
    case 1114: return json_kind::timestamp;
    case 1184: return json_kind::timestamptz;
    default: return json_kind::string;
  }
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The JSON number grammar, which is what IsValidJsonNumber accepts:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view text) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    return i > start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == text.size();
}

// ISO "YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]" to XSD (EncodeDateTime with
// USE_XSD_DATES): 'T' between date and time, and a zone always with its minutes.
// "infinity", "-infinity" and anything else not ISO stay as they are.
void append_timestamp(std::string& out, std::string_view text, json_kind kind) {
  std::array<char, 64> buffer{};
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= text.size() ||
      !is_digit(text[space - 1]) || !is_digit(text[space + 1]) ||
      text.size() + 3 > buffer.size()) {
    append_pg_json_string(out, text);
    return;
  }
  std::memcpy(buffer.data(), text.data(), text.size());
  std::size_t size = text.size();
  buffer[space] = 'T';
  if (kind == json_kind::timestamptz) {
    const std::size_t zone = text.find_first_of("+-", space);
    std::size_t zone_end = text.find(' ', space + 1);
    if (zone_end == std::string_view::npos) zone_end = text.size();
    const auto hours = zone < zone_end ? text.substr(zone + 1, zone_end - zone - 1) : std::string_view();
    if (!hours.empty() && std::all_of(hours.begin(), hours.end(), is_digit)) {
      std::memmove(buffer.data() + zone_end + 3, buffer.data() + zone_end, size - zone_end);
      std::memcpy(buffer.data() + zone_end, ":00", 3);
      size += 3;
    }
  }
  append_pg_json_string(out, std::string_view(buffer.data(), size));
}

// json and jsonb text is already JSON; a raw line break can only be whitespace in it.
void append_json_text(std::string& out, std::string_view text) {
  const std::size_t start = out.size();
  out.append(text);
  std::replace_if(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(),
                  [](char c) { return c == '\n' || c == '\r'; }, ' ');
}

void append_scalar(std::string& out, json_kind kind, std::string_view text) {
  if (kind == json_kind::number && is_json_number(text)) {
    out.append(text);  // else NaN, Infinity, -Infinity: strings
  } else if (kind == json_kind::boolean && (text == "t" || text == "f")) {
    out.append(text == "t" ? "true" : "false");
  } else if (kind == json_kind::json && !text.empty()) {
    append_json_text(out, text);
  } else if (kind == json_kind::timestamp || kind == json_kind::timestamptz) {
    append_timestamp(out, text, kind);
  } else {
    append_pg_json_string(out, text);  // date too: its ISO and XSD texts are the same
  }
}

// int2vector and oidvector: items separated by spaces, no braces, no nulls.
void append_vector(std::string& out, json_kind item, std::string_view text) {
  out.push_back('[');
  bool first = true;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t end = std::min(text.find(' ', i), text.size());
    if (end > i) {
      if (!first) out.push_back(',');
      first = false;
      append_scalar(out, item, text.substr(i, end - i));
    }
    i = end + 1;
  }
  out.push_back(']');
}

// array_out's text: an optional bounds prefix "[lb:ub]...=" (written when a lower bound is
// not 1; to_json ignores bounds), then "{" elements separated by the delimiter "}", where an
// element is a nested "{...}" (one per dimension, at most MAXDIM 6), NULL, a bare token, or a
// "quoted" one with \" and \\ escapes (array_out quotes empty, "NULL", and any element with
// a delimiter, brace, quote, backslash or space). Anything else: false, the caller
// falls back to a string.
class array_text_writer {
 public:
  array_text_writer(std::string& out, const json_shape& shape, std::string_view text)
      : out_(out), shape_(shape), text_(text) {}

  bool write() {
    if (!skip_bounds() || !write_level(1)) return false;
    return pos_ == text_.size();
  }

 private:
  static constexpr int max_dimensions = 6;  // PostgreSQL's MAXDIM

  bool skip_bounds() {
    if (pos_ >= text_.size() || text_[pos_] != '[') return true;
    while (pos_ < text_.size() && text_[pos_] == '[') {
      const std::size_t close = text_.find(']', pos_);
      if (close == std::string_view::npos) return false;
      const auto bounds = text_.substr(pos_ + 1, close - pos_ - 1);
      if (bounds.find_first_not_of("0123456789:-") != std::string_view::npos) return false;
      pos_ = close + 1;
    }
    return pos_ < text_.size() && text_[pos_++] == '=';
  }

  bool write_level(int depth) {
    if (depth > max_dimensions || pos_ >= text_.size() || text_[pos_] != '{') return false;
    ++pos_;
    out_.push_back('[');
    for (bool first = true;; first = false) {
      if (first && pos_ < text_.size() && text_[pos_] == '}') break;  // {}: no elements
      if (!first) out_.push_back(',');
      const bool nested = pos_ < text_.size() && text_[pos_] == '{';
      if (!(nested ? write_level(depth + 1) : write_element()) || pos_ >= text_.size()) return false;
      if (text_[pos_] == '}') break;
      if (text_[pos_++] != shape_.delimiter) return false;
    }
    ++pos_;  // the '}'
    out_.push_back(']');
    return true;
  }

  bool write_element() {
    if (pos_ < text_.size() && text_[pos_] == '"') {
      if (!read_quoted()) return false;
      write_scalar(unquoted_);
      return true;
    }
    const char stops[] = {shape_.delimiter, '}'};
    const std::size_t end = std::min(text_.find_first_of(std::string_view(stops, 2), pos_), text_.size());
    const auto element = text_.substr(pos_, end - pos_);
    if (element.empty() || element.find_first_of("{\"\\") != std::string_view::npos) return false;
    pos_ = end;
    if (element == "NULL") {
      out_.append("null");  // a string "NULL" is quoted
    } else {
      write_scalar(element);
    }
    return true;
  }

  bool read_quoted() {
    unquoted_.clear();
    for (++pos_; pos_ < text_.size(); ++pos_) {
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\' && pos_ + 1 < text_.size()) c = text_[++pos_];
      unquoted_.push_back(c);
    }
    return false;  // no closing quote
  }

  void write_scalar(std::string_view element) {
    if (shape_.element == json_kind::array) {
      append_vector(out_, shape_.vector_item, element);
    } else {
      append_scalar(out_, shape_.element, element);
    }
  }

  std::string& out_;
  const json_shape& shape_;
  std::string_view text_;
  std::size_t pos_ = 0;
  std::string unquoted_;  // a quoted element without its escapes
};

}  // namespace

json_shape json_shape_of(std::uint32_t type_oid) {
  const auto* const end = std::end(builtin_arrays);
  const auto* found = std::lower_bound(std::begin(builtin_arrays), end, type_oid,
                                       [](const builtin_array& a, std::uint32_t oid) { return a.oid < oid; });
  if (found == end || found->oid != type_oid) return {scalar_kind(type_oid)};
  const json_shape element = json_shape_of(found->element);  // int2vector[]: vectors of numbers
  return {json_kind::array, element.kind, found->delimiter, element.element};
}

void append_json_value(std::string& out, const json_shape& shape, std::string_view text) {
  if (shape.kind != json_kind::array) return append_scalar(out, shape.kind, text);
  if (shape.delimiter == ' ') return append_vector(out, shape.element, text);
  const std::size_t start = out.size();
  if (!array_text_writer(out, shape, text).write()) {
    out.resize(start);
    append_pg_json_string(out, text);
  }
}

}  // namespace deltastream::reader
