#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

namespace deltastream::gateway {

namespace http = boost::beast::http;
using http_response = http::response<http::string_body>;

// A JSON response with pgdeltastream's content type.
http_response json_response(http::status status, std::string body);

// The one JSON error writer: {"error":"<message>"}.
http_response json_error(http::status status, std::string_view message);

}  // namespace deltastream::gateway
