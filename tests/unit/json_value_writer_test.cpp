// to_json()'s text for pgoutput's values. Every expected literal is what PostgreSQL 15.18
// answered to `SELECT x::text, to_json(x)` with DateStyle ISO (TimeZone as each case says).
#include <doctest/doctest.h>

#include <random>
#include <simdjson.h>

#include "reader/json_value_writer.hpp"

using namespace deltastream::reader;

namespace {

std::string to_json(std::uint32_t type_oid, std::string_view text) {
  std::string out;
  append_json_value(out, json_shape_of(type_oid), text);
  return out;
}

// PostgreSQL 15 OIDs (catalog/pg_type.dat).
constexpr std::uint32_t bool_oid = 16, bytea_oid = 17, int8_oid = 20, int2vector_oid = 22,
                        int4_oid = 23, text_oid = 25, oid_oid = 26, oidvector_oid = 30, json_oid = 114,
                        float4_oid = 700, float8_oid = 701, money_oid = 790, date_oid = 1082,
                        time_oid = 1083, timestamp_oid = 1114, timestamptz_oid = 1184,
                        interval_oid = 1186, numeric_oid = 1700, jsonb_oid = 3802;
constexpr std::uint32_t bool_array = 1000, bytea_array = 1001, int2vector_array = 1006,
                        int4_array = 1007, text_array = 1009, oidvector_array = 1013, int8_array = 1016,
                        box_array = 1020, float4_array = 1021, float8_array = 1022, oid_array = 1028,
                        timestamp_array = 1115, date_array = 1182, time_array = 1183,
                        timestamptz_array = 1185, numeric_array = 1231, jsonb_array = 3807,
                        int4range_array = 3905;

bool valid_json(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(text).get(root) == simdjson::SUCCESS;
}

}  // namespace

TEST_CASE("json_categorize_type's shapes by OID: numbers but not oid or money, arrays with their element") {
  CHECK(json_shape_of(bool_oid).kind == json_kind::boolean);
  for (auto oid : {21u, int4_oid, int8_oid, float4_oid, float8_oid, numeric_oid}) {
    CHECK(json_shape_of(oid).kind == json_kind::number);
  }
  CHECK(json_shape_of(oid_oid).kind == json_kind::string);
  CHECK(json_shape_of(money_oid).kind == json_kind::string);
  CHECK(json_shape_of(json_oid).kind == json_kind::json);
  CHECK(json_shape_of(jsonb_oid).kind == json_kind::json);
  CHECK(json_shape_of(date_oid).kind == json_kind::date);
  CHECK(json_shape_of(timestamp_oid).kind == json_kind::timestamp);
  CHECK(json_shape_of(timestamptz_oid).kind == json_kind::timestamptz);
  CHECK(json_shape_of(99999).kind == json_kind::string);  // a user type: the caller knows more
  const auto stamps = json_shape_of(timestamptz_array);
  CHECK((stamps.kind == json_kind::array && stamps.element == json_kind::timestamptz && stamps.delimiter == ','));
  CHECK(json_shape_of(box_array).delimiter == ';');
  CHECK(json_shape_of(text_array).element == json_kind::string);
  CHECK(json_shape_of(6157).kind == json_kind::array);  // int8multirange[], the last one
  const auto vectors = json_shape_of(int2vector_array);
  CHECK((vectors.element == json_kind::array && vectors.vector_item == json_kind::number));
}

TEST_CASE("booleans, and numbers bare unless they are no JSON number") {
  CHECK(to_json(bool_oid, "t") == "true");
  CHECK(to_json(bool_oid, "f") == "false");
  CHECK(to_json(int8_oid, "-9223372036854775808") == "-9223372036854775808");
  CHECK(to_json(float4_oid, "1e+30") == "1e+30");
  CHECK(to_json(float4_oid, "-0") == "-0");
  CHECK(to_json(float8_oid, "1.5e-07") == "1.5e-07");
  CHECK(to_json(numeric_oid, "-0.000100") == "-0.000100");
  CHECK(to_json(numeric_oid, "123456789012345678901234567890") == "123456789012345678901234567890");
  for (auto oid : {float4_oid, float8_oid, numeric_oid}) {
    CHECK(to_json(oid, "NaN") == R"("NaN")");
    CHECK(to_json(oid, "Infinity") == R"("Infinity")");
    CHECK(to_json(oid, "-Infinity") == R"("-Infinity")");
  }
  CHECK(to_json(oid_oid, "12") == R"("12")");
  CHECK(to_json(money_oid, "$1.50") == R"("$1.50")");
}

TEST_CASE("json and jsonb as they are, their line breaks (PostgreSQL keeps them) made spaces") {
  CHECK(to_json(jsonb_oid, R"({"a": 1, "b": "x\ny"})") == R"({"a": 1, "b": "x\ny"})");
  CHECK(to_json(jsonb_oid, R"([1, "x"])") == R"([1, "x"])");
  CHECK(to_json(json_oid, "{\"a\":\r\n 1}") == "{\"a\":   1}");  // PostgreSQL: "{\"a\":\r\n 1}"
}

TEST_CASE("other types: strings with PostgreSQL's escaping") {
  CHECK(to_json(bytea_oid, "\\x00ff") == R"("\\x00ff")");
  CHECK(to_json(interval_oid, "1 year 2 mons") == R"("1 year 2 mons")");
  CHECK(to_json(1266, "12:34:56+05:30") == R"("12:34:56+05:30")");  // timetz: no XSD rewrite
  CHECK(to_json(text_oid, "tab\there \"q\" \\") == R"("tab\there \"q\" \\")");
}

TEST_CASE("dates: ISO and to_json agree, BC and infinity included") {
  for (const char* date : {"2026-12-02", "infinity", "-infinity", "0044-03-15 BC", "10000-01-01"}) {
    CHECK(to_json(date_oid, date) == "\"" + std::string(date) + "\"");
  }
}

TEST_CASE("timestamps: a T between date and time, infinity and BC as they are") {
  CHECK(to_json(timestamp_oid, "2026-12-02 17:00:00.123456") == R"("2026-12-02T17:00:00.123456")");
  CHECK(to_json(timestamp_oid, "2026-12-02 17:00:00") == R"("2026-12-02T17:00:00")");
  CHECK(to_json(timestamp_oid, "0044-03-15 12:00:00 BC") == R"("0044-03-15T12:00:00 BC")");
  CHECK(to_json(timestamp_oid, "12026-12-02 01:02:03.5") == R"("12026-12-02T01:02:03.5")");
  CHECK(to_json(timestamp_oid, "infinity") == R"("infinity")");
  CHECK(to_json(timestamp_oid, "-infinity") == R"("-infinity")");
}

TEST_CASE("timestamptz: the zone always with minutes, with seconds when it has them") {
  // TimeZone UTC
  CHECK(to_json(timestamptz_oid, "2026-12-02 17:00:00.123456+00") == R"("2026-12-02T17:00:00.123456+00:00")");
  CHECK(to_json(timestamptz_oid, "0044-03-15 12:00:00+00 BC") == R"("0044-03-15T12:00:00+00:00 BC")");
  CHECK(to_json(timestamptz_oid, "infinity") == R"("infinity")");
  CHECK(to_json(timestamptz_oid, "-infinity") == R"("-infinity")");
  // Asia/Kolkata, America/Sao_Paulo
  CHECK(to_json(timestamptz_oid, "2026-01-01 00:00:00+05:30") == R"("2026-01-01T00:00:00+05:30")");
  CHECK(to_json(timestamptz_oid, "2026-01-01 00:00:00-03") == R"("2026-01-01T00:00:00-03:00")");
  CHECK(to_json(timestamptz_oid, "0044-03-15 08:53:32-03:06:28 BC") == R"("0044-03-15T08:53:32-03:06:28 BC")");
  // Local mean time: Europe/Amsterdam, America/New_York
  CHECK(to_json(timestamptz_oid, "1800-01-01 00:00:00+00:19:32") == R"("1800-01-01T00:00:00+00:19:32")");
  CHECK(to_json(timestamptz_oid, "1800-01-01 00:00:00-04:56:02") == R"("1800-01-01T00:00:00-04:56:02")");
}

TEST_CASE("arrays: nulls, quoted \"NULL\", escapes, empty") {
  CHECK(to_json(bool_array, "{t,f,NULL}") == "[true,false,null]");
  CHECK(to_json(text_array, R"({"NULL",NULL,"a\"b\\c","","x y"})") == R"(["NULL",null,"a\"b\\c","","x y"])");
  CHECK(to_json(text_array, "{\"a\nb\x01\",\"null\",\"\",\" \",\"a,b\",\"{x}\"}") ==
        R"(["a\nb\u0001","null",""," ","a,b","{x}"])");
  CHECK(to_json(text_array, "{}") == "[]");
  CHECK(to_json(bytea_array, R"({"\\x00ff"})") == R"(["\\x00ff"])");
  CHECK(to_json(oid_array, "{1,2}") == R"(["1","2"])");
  CHECK(to_json(int4range_array, R"j({"[1,2)",empty})j") == R"j(["[1,2)","empty"])j");
  CHECK(to_json(time_array, "{12:00:00,NULL}") == R"(["12:00:00",null])");
  CHECK(to_json(box_array, "{(1,1),(0,0);(2,2),(1,1)}") == R"j(["(1,1),(0,0)","(2,2),(1,1)"])j");
}

TEST_CASE("arrays: NaN and Infinity elements are strings, other numbers bare") {
  CHECK(to_json(float8_array, "{NaN,Infinity,-Infinity,1.5,NULL}") == R"(["NaN","Infinity","-Infinity",1.5,null])");
  CHECK(to_json(float4_array, "{1.5,NaN,-Infinity}") == R"([1.5,"NaN","-Infinity"])");
  CHECK(to_json(numeric_array, "{123.4500,NaN}") == R"([123.4500,"NaN"])");
}

TEST_CASE("arrays: dimensions nest, a bounds prefix is dropped") {
  CHECK(to_json(text_array, R"({{"a b",NULL},{"NULL","q\"uo\\te"}})") == R"([["a b",null],["NULL","q\"uo\\te"]])");
  CHECK(to_json(int8_array, "{{{1}},{{2}}}") == "[[[1]],[[2]]]");
  CHECK(to_json(int4_array, "[0:1]={1,2}") == "[1,2]");
  CHECK(to_json(int4_array, "[0:1][2:3]={{1,2},{3,4}}") == "[[1,2],[3,4]]");
  CHECK(to_json(bool_array, "[-2:-1]={t,NULL}") == "[true,null]");
}

TEST_CASE("arrays: each element by its type's rule") {
  CHECK(to_json(timestamptz_array, R"({"2026-12-02 17:00:00.123456+00","0044-03-15 12:00:00+00 BC",-infinity})") ==
        R"(["2026-12-02T17:00:00.123456+00:00","0044-03-15T12:00:00+00:00 BC","-infinity"])");
  // TimeZone America/New_York
  CHECK(to_json(timestamptz_array, R"({"2025-12-31 13:30:00-05",NULL,infinity,"1800-01-01 00:00:00-04:56:02"})") ==
        R"(["2025-12-31T13:30:00-05:00",null,"infinity","1800-01-01T00:00:00-04:56:02"])");
  CHECK(to_json(timestamp_array, R"({"2026-01-01 00:00:00",NULL,-infinity})") ==
        R"(["2026-01-01T00:00:00",null,"-infinity"])");
  CHECK(to_json(date_array, R"({2026-01-01,NULL,"0001-01-01 BC"})") == R"(["2026-01-01",null,"0001-01-01 BC"])");
  CHECK(to_json(jsonb_array, R"({"{\"a\": [1, {\"b\": null}]}",NULL,"\"s\""})") ==
        R"([{"a": [1, {"b": null}]},null,"s"])");
  // PostgreSQL keeps the line breaks: [{"a":\n 1},\n[2]]
  CHECK(to_json(199, "{\"{\\\"a\\\":\n 1}\",\"\n[2]\"}") == "[{\"a\":  1}, [2]]");
}

TEST_CASE("int2vector and oidvector: space-separated items, arrays of them arrays of arrays") {
  CHECK(to_json(int2vector_oid, "1 2 3") == "[1,2,3]");
  CHECK(to_json(int2vector_oid, "-1 2") == "[-1,2]");
  CHECK(to_json(int2vector_oid, "") == "[]");
  CHECK(to_json(oidvector_oid, "1 2 3") == R"(["1","2","3"])");
  CHECK(to_json(int2vector_array, R"({"1 2","",-3})") == "[[1,2],[],[-3]]");
  CHECK(to_json(oidvector_array, R"({"1 2",NULL})") == R"([["1","2"],null])");
}

TEST_CASE("odd text never throws: malformed arrays become strings, all of it valid JSON") {
  CHECK(to_json(int4_array, "{") == R"("{")");
  CHECK(to_json(text_array, R"({"a)") == R"("{\"a")");
  CHECK(to_json(int4_array, "") == R"("")");
  CHECK(to_json(int4_array, "{1,,2}") == R"("{1,,2}")");
  CHECK(to_json(int4_array, "{1}x") == R"("{1}x")");
  CHECK(to_json(int4_array, "[0:1]{1}") == R"("[0:1]{1}")");
  CHECK(to_json(int4_array, "{{{{{{{1}}}}}}}") == R"("{{{{{{{1}}}}}}}")");  // past MAXDIM 6
  CHECK(to_json(bool_oid, "yes") == R"("yes")");
  CHECK(to_json(timestamptz_oid, "Wed Dec 02 17:00:00 2026 UTC") == R"("Wed Dec 02 17:00:00 2026 UTC")");

  // Every prefix of real array text, and random ASCII (simdjson wants UTF-8) biased to syntax.
  std::vector<std::string> inputs;
  const std::string whole = R"([0:1][1:2]={{"a\"b",NULL},{"2026-01-01 00:00:00+05",c}})";
  for (std::size_t size = 0; size <= whole.size(); ++size) inputs.push_back(whole.substr(0, size));
  std::mt19937 random(11);
  const std::string syntax = "{}[]:=,;\"\\ NUL0123456789-+.eT\n\t";
  for (int round = 0; round < 3000; ++round) {
    std::string text(random() % 24, '\0');
    for (auto& c : text) c = random() % 2 ? syntax[random() % syntax.size()] : static_cast<char>(random() % 128);
    inputs.push_back(text);
  }
  const std::uint32_t shapes[] = {bool_oid, int4_oid, numeric_oid, date_oid, timestamp_oid, timestamptz_oid,
                                  text_oid, int2vector_oid, oidvector_oid, bool_array, int4_array, text_array,
                                  box_array, timestamptz_array, int2vector_array, oidvector_array};
  for (const auto& text : inputs) {
    for (auto oid : shapes) {
      CAPTURE(oid);
      CAPTURE(text);
      std::string out;
      CHECK_NOTHROW(append_json_value(out, json_shape_of(oid), text));
      CHECK(valid_json(out));
    }
  }
}
