// Files compiled into the binary by cmake/embed.cmake (default policy, catalogue, messages).
#pragma once
#include <span>
#include <string_view>

namespace aaj::embedded {

struct File {
  std::string_view path;  // relative to the embedded folder, '/' separated
  std::string_view data;  // bytes of the file; static storage duration
};

// Returns the file with this relative path in `bundle`, or nullptr. Thread-safe.
inline const File* find(std::span<const File> bundle, std::string_view path) {
  for (const File& f : bundle)
    if (f.path == path) return &f;
  return nullptr;
}

}  // namespace aaj::embedded
