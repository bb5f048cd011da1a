#pragma once

#include <string_view>

#include "gateway/access_control.hpp"
#include "gateway/http_response.hpp"

namespace deltastream::gateway {

// /console (the page; also /console/) and /console/<file> (its scripts and styles).
bool is_console_path(std::string_view path);

// The console's file for a GET or HEAD of a console path: 200 with a strict
// Content-Security-Policy (the page's own files and its own origin's API, nothing else),
// 304 when the browser's copy is current, 404 for a file that is not there.
http_response console_response(const http_request& request, std::string_view path);

}  // namespace deltastream::gateway
