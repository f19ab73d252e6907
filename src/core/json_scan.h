// A strict JSON checker that keeps text as text. The hot paths receive JSON whose parts are only
// passed on or looked up by one key (a data source's answer, a request body carrying one base64
// string); building a DOM and serializing it again cost more than everything else those paths
// do. This checks the text once, without recursion, and hands back byte ranges of it.
//
// Strict means RFC 8259 and a bit more: UTF-8 only (no overlong forms, surrogates or code points
// above U+10FFFF, escapes of lone surrogates refused too), no duplicate member names in any
// object, nothing but whitespace after the value, nesting at most `max_depth`. Anything nlohmann
// accepts and these rules allow is accepted, so text that passes here parses there.
//
// Pure, no I/O, thread-safe.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/json_limits.h"
#include "core/result.h"

namespace aaj::json_scan {

// One member of an object as found in the text.
struct Member {
  std::string name;        // the member name, unescaped
  std::string_view value;  // the value's JSON text (a view into the scanned text)
};

// Checks that `text` is exactly one strict JSON value. Error "invalid_json" with a detail naming
// the byte offset and what is wrong.
Status validate(std::string_view text, int max_depth = json_limits::kMaxDepth);

// Checks `text` like validate() and requires an object; returns its members in order. The views
// point into `text`, which must outlive them.
Result<std::vector<Member>> object_members(std::string_view text,
                                           int max_depth = json_limits::kMaxDepth);

// The value of the member `name`, or nullptr (a pointer into `members`).
const Member* find(const std::vector<Member>& members, std::string_view name);

// Appends `s` as a JSON string (quotes included), escaped exactly as nlohmann::json::dump()
// escapes it (no ASCII-only mode): '"', '\\', and control characters (\b \f \n \r \t or
// \u00XX lowercase); everything else, UTF-8 included, as it is. Returns false, with `out` in an
// unspecified state, when `s` is not valid UTF-8.
bool append_string(std::string& out, std::string_view s);

// The string a JSON string's text denotes ("\"a\\u00e9\"" → "aé"). Error "invalid_json" when
// `token` is not one valid JSON string.
Result<std::string> string_value(std::string_view token);

}  // namespace aaj::json_scan
