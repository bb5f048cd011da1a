#pragma once

#include <optional>
#include <string_view>

#include "common/lsn.hpp"

namespace deltastream::reader {

// The "nextlsn" of a wal2json format-version 1 message (include-lsn on): the LSN just
// past the transaction's commit record, which is what a consumer acknowledges. wal2json
// writes it near the start ({"xid":..,"timestamp":..,"nextlsn":"X/Y","change":[...),
// so only the head is scanned and the payload is never re-parsed. nullopt when absent.
std::optional<lsn> wal2json_next_lsn(std::string_view payload);

// True for a message written outside any transaction (a non-transactional logical
// decoding message): {"change":[...]} whole in one chunk, without "nextlsn".
bool wal2json_is_standalone(std::string_view payload);

// True for a transaction without row changes: {...,"change":[]} (pretty-print off).
bool wal2json_is_empty(std::string_view payload);

// With write-in-chunks, wal2json sends a transaction as several XLogData messages:
// {"nextlsn":"X/Y","change":[ then each change (",{...}" after the first) then ]}.
// True when `chunk` completes the message: the closing "]}", or a first chunk that is
// already the whole message (a wal2json that sends whole transactions).
bool wal2json_ends_message(std::string_view chunk, bool first_chunk);

}  // namespace deltastream::reader
