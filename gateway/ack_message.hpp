#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "common/lsn.hpp"

namespace deltastream::gateway {

// A consumer's ACK, as pgdeltastream defined it: a text frame {"lsn":"X/Y"}.
// Untrusted bytes in; the LSN, or the reason the frame was refused. Never throws.
using ack_parse_result = std::variant<lsn, std::string>;
ack_parse_result parse_ack(std::string_view text);

}  // namespace deltastream::gateway
