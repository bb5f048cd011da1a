#pragma once

#include "common/curve_keys.hpp"

namespace CLI {
class App;
}

namespace deltastream {

// The CURVE flags and their DELTASTREAM_… variables, the same in both programs:
//   server (reader):  --curve-secret-key FILE, --curve-authorized-keys FILE-or-DIR,
//                     --generate-curve-keys PREFIX (writes a keypair and exits)
//   client (gateway): --curve-secret-key FILE, --curve-server-key FILE
// The flags only take file names; load_curve_settings reads them after parsing, so that
// --help works whatever the environment holds.
void add_curve_options(CLI::App& app, curve_settings& settings, curve_role role);

// Reads the files the flags named. Throws config_error naming the flag and the file, or
// the flag that is missing when only half of a pair is given.
void load_curve_settings(curve_settings& settings, curve_role role);

}  // namespace deltastream
