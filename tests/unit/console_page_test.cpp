#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "gateway/console_assets.hpp"
#include "gateway/console_page.hpp"

using namespace deltastream::gateway;

namespace {

http_request get(const std::string& target, http::verb method = http::verb::get) {
  return http_request{method, target, 11};
}

}  // namespace

TEST_CASE("console paths: the page and its files, nothing beside them") {
  CHECK(is_console_path("/console"));
  CHECK(is_console_path("/console/console.js"));
  CHECK_FALSE(is_console_path("/consoles"));
  CHECK(is_console_path("/console/"));  // the page too (the router strips the slash; access checks see it)
  CHECK_FALSE(is_console_path("/v2/console"));
}

TEST_CASE("console files: every embedded file is served with its type and a strict policy") {
  REQUIRE(console_assets().size() >= 3);
  for (const auto& asset : console_assets()) {
    CAPTURE(asset.name);
    const auto response = console_response(get("/console/" + std::string(asset.name)), "/console/" + std::string(asset.name));
    CHECK(response.result_int() == 200);
    CHECK(response.body() == asset.body);
    CHECK(std::string(response[http::field::content_type]) == asset.content_type);
    CHECK(response["Content-Security-Policy"].find("default-src 'none'") != std::string::npos);
    CHECK(response["Content-Security-Policy"].find("frame-ancestors 'none'") != std::string::npos);
    CHECK(response["X-Content-Type-Options"] == "nosniff");
  }
  const auto page = console_response(get("/console"), "/console");
  CHECK(page.result_int() == 200);
  CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(page.body().find("/console/console.js") != std::string::npos);
}

TEST_CASE("console files: 304 for the browser's current copy, HEAD without a body, 404 and 405") {
  const auto first = console_response(get("/console/console.css"), "/console/console.css");
  const std::string tag(first[http::field::etag]);
  REQUIRE_FALSE(tag.empty());
  auto again = get("/console/console.css");
  again.set(http::field::if_none_match, tag);
  const auto cached = console_response(again, "/console/console.css");
  CHECK(cached.result_int() == 304);
  CHECK(cached.body().empty());
  again.set(http::field::if_none_match, "\"something else\"");
  CHECK(console_response(again, "/console/console.css").result_int() == 200);

  const auto head = console_response(get("/console", http::verb::head), "/console");
  CHECK(head.result_int() == 200);
  CHECK(head.body().empty());
  CHECK(head[http::field::content_length] != "0");

  CHECK(console_response(get("/console/nothing.js"), "/console/nothing.js").result_int() == 404);
  CHECK(console_response(get("/console/../gateway"), "/console/../gateway").result_int() == 404);
  CHECK(console_response(get("/console", http::verb::post), "/console").result_int() == 405);
}

TEST_CASE("console files: every script the page and its modules load is compiled in") {
  std::set<std::string> names;
  for (const auto& asset : console_assets()) names.emplace(asset.name);
  // The page's <script src> and <link href>, and each module's `from "./x.js"`: a file left
  // out of gateway/CMakeLists.txt would be a 404 at run time, and the console a blank page.
  const std::regex reference(R"re((?:src|href)="/console/([^"]+)"|from "\./([^"]+)")re");
  std::size_t checked = 0;
  for (const auto& asset : console_assets()) {
    const std::string body(asset.body);
    for (std::sregex_iterator it(body.begin(), body.end(), reference), end; it != end; ++it) {
      const auto name = (*it)[1].matched ? (*it)[1].str() : (*it)[2].str();
      CAPTURE(asset.name);
      CHECK(names.contains(name));
      ++checked;
    }
  }
  CHECK(checked >= 8);  // index.html's two, and the modules' imports
}
