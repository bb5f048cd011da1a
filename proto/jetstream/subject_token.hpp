#pragma once

#include <string>
#include <string_view>

namespace deltastream::jetstream {

// A name as one NATS subject token. A token may not be empty nor hold '.', '*', '>' or
// whitespace (they split or match subjects), so those bytes, control bytes and '%' itself
// are written %XX: "my.table" is "my%2Etable", and the mapping cannot collide.
std::string subject_token(std::string_view name);

// True when `subject` is a literal subject (tokens of allowed bytes, no wildcards): what
// --subject-prefix must be.
bool literal_subject(std::string_view subject);

}  // namespace deltastream::jetstream
