#include <doctest/doctest.h>

#include "common/errors.hpp"
#include "gateway/access_control.hpp"

using namespace deltastream;
using namespace deltastream::gateway;

namespace {

const char* token_file = R"(# deltastream tokens
admin aaaaaaaaaaaaaaaaaaaaaaaa

read  rrrrrrrrrrrrrrrrrrrrrrrr
)";

http_request request_for(const std::string& target) {
  http_request request{http::verb::get, target, 11};
  request.set(http::field::host, "gw.example:12312");
  return request;
}

unsigned status_of(const access_policy& policy, const http_request& request, bool websocket = false) {
  const auto target = parse_target({request.target().data(), request.target().size()});
  REQUIRE(target);
  const auto refusal = check_access(policy, request, *target, websocket);
  return refusal ? refusal->result_int() : 200;
}

}  // namespace

TEST_CASE("token files: scopes, comments, and malformed lines named") {
  const auto tokens = access_tokens::from_text(token_file, "t");
  CHECK(tokens.authorize("aaaaaaaaaaaaaaaaaaaaaaaa")->scope == access_scope::admin);
  CHECK(tokens.authorize("rrrrrrrrrrrrrrrrrrrrrrrr")->scope == access_scope::read);
  CHECK_FALSE(tokens.authorize("rrrrrrrrrrrrrrrrrrrrrrr"));   // one short
  CHECK_FALSE(tokens.authorize("rrrrrrrrrrrrrrrrrrrrrrrrr"));  // one long
  CHECK_FALSE(tokens.authorize(""));

  for (const auto& [text, part] : std::initializer_list<std::pair<const char*, const char*>>{
           {"root aaaaaaaaaaaaaaaaaaaaaaaa", "unknown scope"},
           {"read short", "shorter than 16"},
           {"read", "expected"},
           {"read aaaaaaaaaaaaaaaaaaaaaaaa extra", "expected"},
           {"# nothing\n\n", "no tokens"},
       }) {
    CAPTURE(text);
    try {
      access_tokens::from_text(text, "f.txt");
      FAIL("accepted");
    } catch (const config_error& error) {
      CHECK(std::string(error.what()).find(part) != std::string::npos);
      CHECK(std::string(error.what()).find("f.txt") != std::string::npos);
    }
  }
}

TEST_CASE("bearer tokens: 401 without or with a wrong token, 403 without the scope") {
  access_policy policy;
  policy.tokens = access_tokens::from_text(token_file, "t");

  auto request = request_for("/v1/snapshot/data");
  CHECK(status_of(policy, request) == 401);
  request.set(http::field::authorization, "Bearer wrongwrongwrongwrong");
  CHECK(status_of(policy, request) == 401);
  request.set(http::field::authorization, "bearer rrrrrrrrrrrrrrrrrrrrrrrr");
  CHECK(status_of(policy, request) == 200);

  auto init = request_for("/v1/init");
  init.set(http::field::authorization, "Bearer rrrrrrrrrrrrrrrrrrrrrrrr");
  CHECK(status_of(policy, init) == 403);
  init.set(http::field::authorization, "Bearer aaaaaaaaaaaaaaaaaaaaaaaa");
  CHECK(status_of(policy, init) == 200);

  CHECK(status_of(policy, request_for("/healthz")) == 200);
  CHECK(status_of(policy, request_for("/readyz")) == 200);
  CHECK(status_of(policy, request_for("/metrics")) == 401);
  CHECK(status_of(policy, request_for("/v2/slots")) == 401);
  // The console's page and files hold no data: anyone may load them, then give a token.
  CHECK(status_of(policy, request_for("/console")) == 200);
  CHECK(status_of(policy, request_for("/console/console.js")) == 200);
  CHECK(status_of(policy, request_for("/console/")) == 200);  // the router serves it as /console
  CHECK(status_of(policy, request_for("/consoles")) == 401);
  // Browsers' WebSockets cannot send headers: the token may come in the URL.
  CHECK(status_of(policy, request_for("/v1/lr/stream?slotName=delta_x&access_token=rrrrrrrrrrrrrrrrrrrrrrrr"),
                  true) == 200);
  CHECK(status_of(policy, request_for("/v1/lr/stream?slotName=delta_x"), true) == 401);

  access_policy open;  // no token file: nothing is asked
  CHECK(status_of(open, request_for("/v1/init")) == 200);
}

TEST_CASE("WebSocket origins: same origin by default, or the allow-list") {
  access_policy policy;
  auto request = request_for("/v1/lr/stream?slotName=delta_x");
  CHECK(status_of(policy, request, true) == 200);  // no Origin: not a browser
  request.set(http::field::origin, "https://gw.example:12312");
  CHECK(status_of(policy, request, true) == 200);
  request.set(http::field::origin, "https://evil.example");
  CHECK(status_of(policy, request, true) == 403);
  CHECK(status_of(policy, request, false) == 200);  // plain HTTP: CORS is the browser's job

  policy.allowed_origins = {"https://app.example"};
  CHECK(status_of(policy, request, true) == 403);
  auto own = request_for("/v1/lr/stream?slotName=delta_x");
  own.set(http::field::origin, "https://gw.example:12312");
  CHECK(status_of(policy, own, true) == 200);  // the gateway's own pages (its console) still may
  request.set(http::field::origin, "https://APP.example");
  CHECK(status_of(policy, request, true) == 200);
  policy.allowed_origins = {"*"};
  request.set(http::field::origin, "https://evil.example");
  CHECK(status_of(policy, request, true) == 200);
}

TEST_CASE("tokens limited to v2 streams read those streams and the list, nothing else") {
  access_policy policy;
  policy.tokens = access_tokens::from_text(std::string(token_file) + "read:orders_sync,billing llllllllllllllllllllllll\n", "t");
  const auto as = [&](const std::string& target, http::verb method = http::verb::get) {
    auto request = request_for(target);
    request.method(method);
    request.set(http::field::authorization, "Bearer llllllllllllllllllllllll");
    return status_of(policy, request);
  };
  CHECK(as("/v2/streams/orders_sync/changes") == 200);
  CHECK(as("/v2/streams/billing/snapshot?table=t") == 200);
  CHECK(as("/v2/streams/billing") == 200);
  CHECK(as("/v2/streams") == 200);
  CHECK(as("/v2/streams/other/changes") == 403);
  CHECK(as("/v2/streams/orders_sync_2") == 403);
  CHECK(as("/v1/lr/stream?slotName=delta_x") == 403);
  CHECK(as("/v1/snapshot/stream?table=t") == 403);
  CHECK(as("/metrics") == 403);
  CHECK(as("/v2/streams", http::verb::post) == 403);                 // creating needs admin
  CHECK(as("/v2/streams/billing", http::verb::delete_) == 403);      // so does deleting
  CHECK(as("/healthz") == 200);
  CHECK(as("/v2/slots?history=true") == 200);  // the list: it shows only these streams


  auto read_token = request_for("/v2/streams/billing");
  read_token.method(http::verb::delete_);
  read_token.set(http::field::authorization, "Bearer rrrrrrrrrrrrrrrrrrrrrrrr");
  CHECK(status_of(policy, read_token) == 403);
  read_token.set(http::field::authorization, "Bearer aaaaaaaaaaaaaaaaaaaaaaaa");
  CHECK(status_of(policy, read_token) == 200);

  for (const char* bad : {"read: xxxxxxxxxxxxxxxxxxxxxxxx", "read:Bad xxxxxxxxxxxxxxxxxxxxxxxx",
                          "read:a,,b xxxxxxxxxxxxxxxxxxxxxxxx", "write:a xxxxxxxxxxxxxxxxxxxxxxxx"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(access_tokens::from_text(bad, "f.txt"), config_error);
  }
}
