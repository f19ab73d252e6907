// Limits checked on untrusted JSON text before it is parsed or walked recursively: nlohmann's
// parser, dump() and our own walkers recurse per nesting level, so a deeply nested document
// (a 120 KB "[[[[…" is enough) would exhaust a worker's stack. Pure, no I/O, thread-safe.
#pragma once
#include <string_view>

namespace aaj::json_limits {

// Nesting that real request documents never approach; far below any stack limit.
inline constexpr int kMaxDepth = 32;

// True when `text` nests objects/arrays deeper than `max_depth` (brackets inside strings are
// not counted). Linear, no recursion.
inline bool too_deep(std::string_view text, int max_depth = kMaxDepth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace aaj::json_limits
