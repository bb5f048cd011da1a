#include "gateway/http_response.hpp"

#include "common/json_writer.hpp"

namespace deltastream::gateway {

http_response json_response(http::status status, std::string body) {
  http_response response{status, 11};
  response.set(http::field::server, "deltastream");
  response.set(http::field::content_type, "application/json; charset=utf-8");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

http_response json_error(http::status status, std::string_view message) {
  return json_response(status, json_object().add("error", message).str());
}

}  // namespace deltastream::gateway
