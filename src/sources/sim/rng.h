// Internal: the deterministic pseudo-random stream of the synthetic world. Not part of the API.
//
// A stream is seeded from a text label (e.g. "person|850615300000") with FNV-1a 64 and then
// advanced with splitmix64. Both are fully specified integer algorithms, so the same label gives
// the same numbers on every run, compiler and machine (unlike std::hash or <random>
// distributions). A Rng is a plain value: each call site builds its own, nothing is shared.
#pragma once
#include <cstdint>
#include <string_view>

namespace aaj::sim::internal {

class Rng {
 public:
  // The stream named by `domain` and `key`: FNV-1a 64 of domain + '|' + key.
  Rng(std::string_view domain, std::string_view key) {
    uint64_t h = 0xcbf29ce484222325ULL;
    auto mix = [&h](std::string_view s) {
      for (char c : s) {
        h ^= static_cast<uint8_t>(c);
        h *= 0x100000001b3ULL;
      }
    };
    mix(domain);
    mix("|");
    mix(key);
    state_ = h;
  }

  // Next 64 raw bits (splitmix64).
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform-enough integer in [0, n); n must be > 0. (Modulo bias is irrelevant here.)
  uint64_t below(uint64_t n) { return next() % n; }

  // Integer in [lo, hi] (inclusive); requires lo <= hi.
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability percent/100.
  bool chance(unsigned percent) { return below(100) < percent; }

  // A uniformly chosen element of a C array.
  template <class T, size_t N>
  const T& pick(const T (&items)[N]) {
    return items[below(N)];
  }

 private:
  uint64_t state_;
};

}  // namespace aaj::sim::internal
