// wal2json's value and name rules, one by one (the golden test covers them together).
#include <doctest/doctest.h>

#include "common/errors.hpp"
#include "reader/wal2json_writer.hpp"

using namespace deltastream::reader;

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  append_pg_json_string(out, text);
  return out;
}

tuple_column text(std::string_view value) { return {tuple_column::kind::text, value}; }
const tuple_column null_value{tuple_column::kind::null, {}};
const tuple_column unchanged{tuple_column::kind::unchanged, {}};

struct table_fixture {
  type_names names;
  relation_shape relation{"public", "t", 'd', {}};
  table_fixture() {
    names.insert({23, -1}, "integer");
    names.insert({1700, -1}, "numeric");
    names.insert({16, -1}, "boolean");
    names.insert({17, -1}, "bytea");
    names.insert({25, -1}, "text");
    names.insert({99999, -1}, "\"MyType\"");
    names.insert({99998, -1}, "\"MyType\"[]");
    relation.columns = {{"id", true, {23, -1}}, {"n", false, {1700, -1}}, {"b", false, {16, -1}},
                        {"raw", false, {17, -1}}, {"doc", false, {25, -1}}, {"q", false, {99999, -1}},
                        {"qs", false, {99998, -1}}};
  }
};

}  // namespace

TEST_CASE("PostgreSQL's JSON escaping: short escapes, \\u00xx for other control bytes, the rest as is") {
  CHECK(escaped("a\"b\\c") == R"("a\"b\\c")");
  CHECK(escaped("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  CHECK(escaped(std::string("\x01\x1f\x7f", 3)) == "\"\\u0001\\u001f\x7f\"");
  CHECK(escaped("é🎉") == "\"é🎉\"");
  CHECK(escaped(std::string("\xff\xfe", 2)) == "\"\xff\xfe\"");  // not UTF-8: passed on, as PostgreSQL does
  CHECK(escaped("") == "\"\"");
}

TEST_CASE("an insert: numbers bare, NaN and Infinity null, booleans, bytea without \\x, quoted type names") {
  table_fixture fixture;
  const wal2json_writer writer(fixture.names);
  std::string out;
  writer.insert(out, fixture.relation,
                {text("1"), text("-Infinity"), text("t"), text("\\x00ff"), text("line\nbreak"), text("v"), text("{v}")});
  CHECK(out == R"({"kind":"insert","schema":"public","table":"t","columnnames":["id","n","b","raw","doc","q","qs"],)"
               R"("columntypes":["integer","numeric","boolean","bytea","text","MyType","\"MyType\"[]"],)"
               R"("columnvalues":[1,null,true,"00ff","line\nbreak","v","{v}"]})");
}

TEST_CASE("an update without an old tuple names its keys from the new row; unchanged TOAST is left out") {
  table_fixture fixture;
  const wal2json_writer writer(fixture.names);
  std::string out;
  writer.update(out, fixture.relation,
                {text("7"), text("NaN"), text("f"), null_value, unchanged, null_value, null_value}, nullptr);
  CHECK(out == R"({"kind":"update","schema":"public","table":"t","columnnames":["id","n","b","raw","q","qs"],)"
               R"("columntypes":["integer","numeric","boolean","bytea","MyType","\"MyType\"[]"],)"
               R"("columnvalues":[7,null,false,null,null,null],)"
               R"("oldkeys":{"keynames":["id"],"keytypes":["integer"],"keyvalues":[7]}})");
}

TEST_CASE("oldkeys leave nulls out; a delete under FULL names every column of the old row") {
  table_fixture fixture;
  fixture.relation.replica_identity = 'f';
  const wal2json_writer writer(fixture.names);
  std::string out;
  writer.remove(out, fixture.relation, {text("7"), null_value, text("t"), null_value, unchanged, null_value, null_value});
  CHECK(out == R"({"kind":"delete","schema":"public","table":"t",)"
               R"("oldkeys":{"keynames":["id","b"],"keytypes":["integer","boolean"],"keyvalues":[7,true]}})");
}

TEST_CASE("a table without a key and not FULL has no identity; a tuple of the wrong width is refused") {
  table_fixture fixture;
  CHECK(fixture.relation.has_identity());
  for (auto& column : fixture.relation.columns) column.key = false;
  CHECK_FALSE(fixture.relation.has_identity());
  fixture.relation.replica_identity = 'f';
  CHECK(fixture.relation.has_identity());
  const wal2json_writer writer(fixture.names);
  std::string out;
  CHECK_THROWS_AS(writer.insert(out, fixture.relation, {text("1")}), deltastream::protocol_error);
}

TEST_CASE("a message's content ends at its first NUL byte, as wal2json copies it") {
  std::string out;
  wal2json_writer::message(out, "p", std::string("ab\0cd", 5));
  CHECK(out == R"({"kind":"message","transactional":true,"prefix":"p","content":"ab"})");
}
