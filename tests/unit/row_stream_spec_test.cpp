// A row stream's definition as a client sends it: the "tables" of a create request, and
// row filters that go into CREATE PUBLICATION ... WHERE (...) as text, so must not leave it.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "reader/row_stream_spec.hpp"

using namespace deltastream::reader;

namespace {

std::vector<row_table_spec> tables_of(std::string_view json) {
  auto parsed = parse_row_tables(json);
  if (const auto* problem = std::get_if<std::string>(&parsed)) FAIL("refused: " << *problem << "\n  " << json);
  return std::get<std::vector<row_table_spec>>(parsed);
}

std::string refusal_of(std::string_view json) {
  auto parsed = parse_row_tables(json);
  if (const auto* problem = std::get_if<std::string>(&parsed)) return *problem;
  FAIL("accepted: " << json);
  return {};
}

// The filter's reason for refusal, or "" when accepted.
std::string filter_refusal(std::string_view where) { return row_filter_problem(where).value_or(""); }

}  // namespace

TEST_CASE("ordinary row filters are accepted, whatever their literals and quoted names hold") {
  for (const std::string_view where : {
           "status <> 'draft'",
           "id > 5 AND (a = 'x)' OR b IN (1,2))",
           R"(name = E'it\'s')",
           "x = $$a;b)$$",
           R"("Weird;Col" = 1)",
           "a = 'it''s'",
           "a = 'x -- not a comment' AND b = '/* nor this */'",
           R"(a = E'it''s' AND b = e'\\')",                   // '' in an E'' literal too
           "a = $body$ ) ; $$ $body$ AND b = $x1$;$x1$",        // tags, and $$ inside another tag
           "price$ > $1 OR a$b = 2",                            // $ inside names; $1 no quote
           "\"a\"\"b\" = 1",                                    // "" inside a quoted identifier
           "a = 'one'\n    'two' AND b = E'x'\n'\\'' ",         // continued literals (a newline between)
           "lower(name) LIKE 'a%' AND ((1 = 1))",
       }) {
    INFO(where);
    CHECK(filter_refusal(where) == "");
  }
}

TEST_CASE("row filters that could leave WHERE (...) are refused, with the reason") {
  CHECK(filter_refusal("id > 1); DROP TABLE t; --") == "closes a parenthesis it did not open");
  CHECK(filter_refusal("x) , TABLE secrets WHERE (true") == "closes a parenthesis it did not open");
  CHECK(filter_refusal("a = 1 -- c") == "holds a comment");
  CHECK(filter_refusal("a /* c */ = 1") == "holds a comment");
  CHECK(filter_refusal("a = 1; SELECT 1") == "holds a ';' (one expression only)");
  CHECK(filter_refusal("a = 'x") == "has a string literal that is not closed");
  CHECK(filter_refusal("a = 'it''s") == "has a string literal that is not closed");
  CHECK(filter_refusal(R"(a = E'x\')") == "has a string literal that is not closed");
  CHECK(filter_refusal(R"("a = 1)") == "has a quoted identifier that is not closed");
  CHECK(filter_refusal("(((") == "leaves a parenthesis open");
  CHECK(filter_refusal("a = $tag$ x") == "has a dollar-quoted string that is not closed");
  CHECK(filter_refusal("a = $tag$ x $TAG$") == "has a dollar-quoted string that is not closed");
  // In E'' a backslash escapes the next byte, its own kind included: \\ is one
  // backslash and the quote after it closes the literal, so the ')' is outside.
  CHECK(filter_refusal(R"(E'\\' ) x')") == "closes a parenthesis it did not open");
  // Without E, a backslash is just a byte (standard_conforming_strings, on since 9.1).
  CHECK(filter_refusal(R"(a = '\' ) x')") == "closes a parenthesis it did not open");
  CHECK(filter_refusal(std::string("a = 1\0 ) x", 10)) == "holds a NUL byte");
  CHECK(filter_refusal(std::string("a = '\0'", 7)) == "holds a NUL byte");
  CHECK(filter_refusal("") == "is empty (leave it out for every row)");
  CHECK(filter_refusal(std::string(8192, 'a')) == "");
  CHECK(filter_refusal(std::string(8193, 'a')) == "is longer than 8192 bytes");
}

TEST_CASE("a literal is read to where PostgreSQL ends it: '' and continuation lines keep E'' escapes") {
  // E'x''\'' is one literal to PostgreSQL ('' and \' are both quotes inside): the rest
  // is outside it and must be refused. Read as E'x' '\' '...' it would pass as literals.
  CHECK(filter_refusal(R"(E'x''\'' IS NOT NULL) ; DROP TABLE t; --')") == "closes a parenthesis it did not open");
  // A quote after whitespace with a newline continues the literal, as E'' (scan.l's
  // quotecontinue): '\'' there is inside, the quote after it closes.
  CHECK(filter_refusal("E'x'\n'\\'' IS NOT NULL) ; DROP TABLE t; --'") == "closes a parenthesis it did not open");
  CHECK(filter_refusal("E'x' \r\n\t '\\'' ) x'") == "closes a parenthesis it did not open");
  // Without a newline the next quote begins another literal, a standard one: its
  // backslash is a byte and the quote after it closes it.
  CHECK(filter_refusal("E'x' '\\' ) x'") == "closes a parenthesis it did not open");
}

TEST_CASE("tables: names, column lists and filters, null meaning absent") {
  const auto tables = tables_of(
      R"([{"table": "public.orders"},
          {"table": "s.t", "columns": ["id", "status"], "where": "status <> 'draft'"},
          {"table": "u", "columns": null, "where": null}])");
  REQUIRE(tables.size() == 3);
  CHECK(tables[0].table == "public.orders");
  CHECK_FALSE(tables[0].columns);
  CHECK(tables[0].where.empty());
  CHECK(tables[1].table == "s.t");
  REQUIRE(tables[1].columns);
  CHECK(*tables[1].columns == std::vector<std::string>{"id", "status"});
  CHECK(tables[1].where == "status <> 'draft'");
  CHECK(tables[2].table == "u");
  CHECK_FALSE(tables[2].columns);
  CHECK(tables[2].where.empty());

  std::string hundred = "[";
  for (int i = 0; i < 100; ++i) hundred += std::string(i ? "," : "") + R"({"table":"t)" + std::to_string(i) + "\"}";
  CHECK(tables_of(hundred + "]").size() == 100);
  CHECK(refusal_of(hundred + R"(,{"table":"one too many"}])") == "at most 100 tables a stream");
}

TEST_CASE("tables that are not what a stream needs are refused, saying why") {
  CHECK(refusal_of("") == R"("tables" must be an array of tables)");
  CHECK(refusal_of(R"({"table": "t"})") == R"("tables" must be an array of tables)");
  CHECK(refusal_of("[") == R"("tables" must be an array of tables)");
  CHECK(refusal_of("[]") == R"("tables" must name at least one table)");
  CHECK(refusal_of(R"(["public.orders"])") == R"(each of "tables" must be an object like {"table": "public.orders"})");
  CHECK(refusal_of(R"([{}])") == R"(each of "tables" needs "table")");
  CHECK(refusal_of(R"([{"columns": ["a"]}])") == R"(each of "tables" needs "table")");
  CHECK(refusal_of(R"([{"table": 7}])") == R"("table" must be a table's name, like "public.orders")");
  CHECK(refusal_of(R"([{"table": null}])") == R"("table" must be a table's name, like "public.orders")");
  CHECK(refusal_of(R"([{"table": ""}])") == R"("table" must be a table's name, like "public.orders")");
  CHECK(refusal_of(R"([{"table": ")" + std::string(201, 't') + "\"}]") ==
        R"("table" must be a table's name, like "public.orders")");
  CHECK(tables_of(R"([{"table": ")" + std::string(200, 't') + "\"}]").size() == 1);
  // A misspelt key must not publish every column.
  CHECK(refusal_of(R"([{"table": "t", "colums": ["a"]}])") ==
        R"(unknown key "colums" in a table (expected table, columns, where))");
  CHECK(refusal_of(R"([{"table": "t", "columns": "a"}])") == R"("columns" must be an array of column names)");
  CHECK(refusal_of(R"([{"table": "t", "columns": []}])") ==
        R"("columns" must name at least one column (leave it out for all))");
  CHECK(refusal_of(R"([{"table": "t", "columns": ["a", "b", "a"]}])") == R"(column "a" is listed twice)");
  CHECK(refusal_of(R"([{"table": "t", "columns": [""]}])") == R"("columns" must hold column names (1 to 63 bytes))");
  CHECK(refusal_of(R"([{"table": "t", "columns": [1]}])") == R"("columns" must hold column names (1 to 63 bytes))");
  CHECK(refusal_of(R"([{"table": "t", "columns": [")" + std::string(64, 'c') + "\"]}]") ==
        R"("columns" must hold column names (1 to 63 bytes))");
  CHECK(tables_of(R"([{"table": "t", "columns": [")" + std::string(63, 'c') + "\"]}]").size() == 1);
  CHECK(refusal_of(R"([{"table": "t", "where": 1}])") == R"("where" must be a string: a PostgreSQL row filter)");
  CHECK(refusal_of(R"([{"table": "t", "where": ""}])") == R"("where" of t: is empty (leave it out for every row))");
  CHECK(refusal_of(R"([{"table": "t", "where": "a = 1) OR (true"}])") ==
        R"("where" of t: closes a parenthesis it did not open)");
  // The table is named in the reason wherever "where" comes in the object.
  CHECK(refusal_of(R"([{"where": "(", "table": "t"}])") == R"("where" of t: leaves a parenthesis open)");
}

TEST_CASE("the definition the setup reads names the publication, the stream and each table as given") {
  std::vector<row_table_spec> tables{{"public.orders", std::nullopt, ""},
                                     {"s.\"T\"", std::vector<std::string>{"id", "a\"b"}, "x = 'y'"}};
  CHECK(row_stream_definition("delta_v2_orders", tables) ==
        R"({"publication":"delta_v2_orders","name":"orders","tables":[{"table":"public.orders"},)"
        R"({"table":"s.\"T\"","columns":["id","a\"b"],"where":"x = 'y'"}]})");
}
