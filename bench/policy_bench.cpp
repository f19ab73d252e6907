// Cost of one policy decision, read as a ratio against baselines measured in the same run:
//   BM_Decide           Engine::decide() on the shipped policy (string ids in, as from a request)
//   BM_BaselineArray    the same stream, ids already turned into integers, one load from a
//                       dense bool array: the floor any table-driven check pays (stream + memory)
//   BM_BaselineHashMap  the same stream, a std::unordered_map<std::string, bool> keyed by
//                       "user|ground|resource": a naive string-keyed lookup
// Stream: every user type x ground x (no resource + 52 resources) x two days (before and after
// Order 34 took effect), shuffled with a fixed seed, so all decision paths are mixed and branch
// prediction cannot learn the order. One iteration = one decision, so Time is ns/decision.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/time.h"
#include "policy/policy.h"

namespace {

using aaj::policy::Engine;

struct Request {
  std::string_view user_type, ground, resource;
  int64_t day;
  uint32_t u, g, r, d;  // the same request as indices, for the baselines
};

struct Stream {
  std::shared_ptr<const Engine> engine;
  std::vector<std::string> user_types, grounds, resources;
  std::vector<Request> requests;
  std::vector<uint8_t> table;  // [d][u][g][r] -> allow, from the engine
  std::unordered_map<std::string, bool> map;

  Stream() {
    engine = *Engine::load_embedded();
    user_types = engine->user_types();
    grounds = engine->grounds();
    resources.push_back("");
    for (const auto& r : engine->catalog().all()) resources.push_back(r.id);
    const int64_t days[2] = {*aaj::time::parse_date("2026-03-01"),
                             *aaj::time::parse_date("2026-06-01")};
    const size_t nu = user_types.size(), ng = grounds.size(), nr = resources.size();
    table.resize(2 * nu * ng * nr);
    for (uint32_t d = 0; d < 2; ++d)
      for (uint32_t u = 0; u < nu; ++u)
        for (uint32_t g = 0; g < ng; ++g)
          for (uint32_t r = 0; r < nr; ++r) {
            Request q{user_types[u], grounds[g], resources[r], days[d], u, g, r, d};
            requests.push_back(q);
            bool allow = engine->decide(q.user_type, q.ground, q.resource, q.day).allow;
            table[((d * nu + u) * ng + g) * nr + r] = allow;
            map[std::to_string(d) + "|" + user_types[u] + "|" + grounds[g] + "|" + resources[r]] =
                allow;
          }
    std::shuffle(requests.begin(), requests.end(), std::mt19937(42));
  }
};

const Stream& stream() {
  static const Stream s;
  return s;
}

void BM_Decide(benchmark::State& state) {
  const Stream& s = stream();
  const Engine& e = *s.engine;
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    const Request& q = s.requests[i];
    auto d = e.decide(q.user_type, q.ground, q.resource, q.day);
    benchmark::DoNotOptimize(d);
    allowed += d.allow;
    if (++i == s.requests.size()) i = 0;
  }
  state.counters["requests"] = static_cast<double>(s.requests.size());
  state.counters["allowed_share"] =
      static_cast<double>(allowed) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decide);

void BM_BaselineArray(benchmark::State& state) {
  const Stream& s = stream();
  const size_t nu = s.user_types.size(), ng = s.grounds.size(), nr = s.resources.size();
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    const Request& q = s.requests[i];
    bool allow = s.table[((q.d * nu + q.u) * ng + q.g) * nr + q.r];
    benchmark::DoNotOptimize(allow);
    allowed += allow;
    if (++i == s.requests.size()) i = 0;
  }
  benchmark::DoNotOptimize(allowed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineArray);

void BM_BaselineHashMap(benchmark::State& state) {
  const Stream& s = stream();
  std::string key;
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    const Request& q = s.requests[i];
    key.clear();
    key.push_back(static_cast<char>('0' + q.d));
    key.push_back('|');
    key.append(q.user_type).push_back('|');
    key.append(q.ground).push_back('|');
    key.append(q.resource);
    auto it = s.map.find(key);
    bool allow = it != s.map.end() && it->second;
    benchmark::DoNotOptimize(allow);
    allowed += allow;
    if (++i == s.requests.size()) i = 0;
  }
  benchmark::DoNotOptimize(allowed);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineHashMap);

}  // namespace

BENCHMARK_MAIN();
