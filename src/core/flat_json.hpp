// A JSON object of plain values ({"key": value, ...}: ASCII strings,
// integers, true, false, null), read in one pass without building a
// document. The records loop writes are such objects, and they are read on
// every claim; nlohmann's parser costs about 100k instructions a record.
// Anything else (a nested value, a fraction, a \u escape, a byte past ASCII,
// a duplicate key, any syntax error) is not read here: the caller then
// parses with nlohmann, so that every message and every odd case stays the
// general parser's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loop {

struct FlatValue {
    enum class Kind { String, Unsigned, Negative, True, False, Null };
    Kind kind = Kind::Null;
    std::string text; // String
    uint64_t u = 0;   // Unsigned: 0 and up, as nlohmann's number_unsigned
    int64_t i = 0;    // Negative: a '-' number ("-0" included), number_integer
};

using FlatObject = std::vector<std::pair<std::string, FlatValue>>;

// The object `text` holds, or nullopt when it is not plainly one.
std::optional<FlatObject> read_flat_object(std::string_view text);

// The value of `key`, or nullptr.
const FlatValue* flat_find(const FlatObject& o, std::string_view key);

} // namespace loop
