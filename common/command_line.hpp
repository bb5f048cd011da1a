#pragma once

#include <cstdlib>
#include <utility>

#include <CLI/CLI.hpp>

#include "common/errors.hpp"

namespace deltastream {

// Parses a program's command line (argc/argv, or CLI11's reversed vector): --help and
// the like print and exit; a bad flag or value throws config_error with CLI11's message.
template <typename... Arguments>
void parse_command_line(CLI::App& app, Arguments&&... arguments) {
  try {
    app.parse(std::forward<Arguments>(arguments)...);
  } catch (const CLI::Success& done) {
    std::exit(app.exit(done));
  } catch (const CLI::ParseError& error) {
    throw config_error(error.what());
  }
}

}  // namespace deltastream
