// The decision path. Everything here runs per request: no allocation, no locks, no maps.
#include <algorithm>

#include "policy/internal.h"

namespace aaj::policy {

namespace {
constexpr std::string_view kUnknownUserType = "unknown_user_type";
constexpr std::string_view kUnknownGround = "unknown_ground";
constexpr std::string_view kUnknownResource = "unknown_resource";
constexpr std::string_view kGroundNotAllowed = "ground_not_allowed";
constexpr std::string_view kResourceNotGranted = "resource_not_granted";
constexpr std::string_view kNoPolicyInForce = "no_policy_in_force";

// Fills the citation of a version into d.
void cite(Decision& d, const Version& v) {
  d.version = v.id;
  d.effective_from = v.effective_from;
  d.effective_from_verified = v.effective_from_verified;
}

// A refusal because no text is known for that day: either no version at all (cite the
// instrument) or a version whose content is unknown (cite it). Never "verified": we cannot know.
Decision no_policy(const Instrument& ins, const Version* v, std::string_view ground_rule) {
  Decision d;
  d.code = kNoPolicyInForce;
  d.ground_rule = ground_rule;
  if (v) {
    cite(d, *v);
    d.rule = v->rule_prefix;
  } else {
    d.rule = ins.id;
  }
  return d;
}
}  // namespace

bool PerfectTable::build(const std::vector<std::string_view>& keys) {
  return try_build(keys, false) || try_build(keys, true);
}

bool PerfectTable::try_build(const std::vector<std::string_view>& keys, bool full) {
  size_t size = 8;
  while (size < keys.size() * 2) size *= 2;
  for (; size <= 65536; size *= 2) {
    for (uint32_t seed = 0; seed < 1024; ++seed) {
      std::vector<Slot> slots(size);
      bool ok = true;
      for (size_t i = 0; i < keys.size() && ok; ++i) {
        Slot& s = slots[hash(keys[i], seed, full) & (size - 1)];
        if (!s.key.empty()) ok = false;
        s = Slot{keys[i], static_cast<int>(i)};
      }
      if (ok) {
        slots_ = std::move(slots);
        seed_ = seed;
        mask_ = static_cast<uint32_t>(size - 1);
        full_ = full;
        return true;
      }
    }
  }
  return false;
}

std::string_view to_string(Access a) {
  switch (a) {
    case Access::Full:
      return "full";
    case Access::Truncated:
      return "truncated";
    case Access::None:
      break;
  }
  return "none";
}

const ResourceInfo* Catalog::find(std::string_view id) const {
  auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id,
                             [&](uint16_t i, std::string_view k) { return resources_[i].id < k; });
  if (it == by_id_.end() || resources_[*it].id != id) return nullptr;
  return &resources_[*it];
}

Engine::Engine() : impl_(std::make_unique<EngineImpl>()) {}
Engine::~Engine() = default;

Decision Engine::decide(std::string_view user_type, std::string_view ground,
                        std::string_view resource, int64_t day) const {
  const EngineImpl& e = *impl_;
  Decision d;
  const int u = e.user_type_index.find(user_type);
  if (u < 0) {
    d.code = kUnknownUserType;
    return d;
  }
  const int g = e.ground_index.find(ground);
  if (g < 0) {
    d.code = kUnknownGround;
    return d;
  }
  int r = -1;
  if (!resource.empty()) {
    r = e.resource_index.find(resource);
    if (r < 0) {
      d.code = kUnknownResource;
      return d;
    }
  }

  // 1. The ground: Appendix 1 of the instrument that governs this user type.
  const Instrument& gi = e.instruments[e.ground_instrument[u]];
  const Version* gv = gi.at(day);
  if (!gv || !gv->content_known) return no_policy(gi, gv, {});
  const GroundCell& cell = gv->ground[static_cast<size_t>(u) * e.n_grounds + g];
  if (!cell.allowed) {
    d.code = kGroundNotAllowed;
    d.rule = cell.rule;
    d.verified = cell.verified;
    cite(d, *gv);
    return d;
  }
  if (r < 0) {
    d.allow = true;
    d.rule = cell.rule;
    d.verified = cell.verified;
    cite(d, *gv);
    return d;
  }

  // 2. The resource: the list that governs this user type.
  const Instrument& ri = e.instruments[e.resource_instrument[u]];
  const Version* rv = ri.at(day);
  if (!rv || !rv->content_known) return no_policy(ri, rv, cell.rule);
  const Grant& grant = rv->grants[static_cast<size_t>(u) * e.n_resources + r];
  d.rule = grant.rule;
  d.ground_rule = cell.rule;
  cite(d, *rv);
  if (grant.access == Access::None) {
    d.code = kResourceNotGranted;
    d.verified = grant.verified;
    return d;
  }
  d.allow = true;
  d.access = grant.access;
  d.verified = cell.verified && grant.verified;
  return d;
}

bool Engine::is_user_type(std::string_view id) const {
  return impl_->user_type_index.find(id) >= 0;
}
bool Engine::is_ground(std::string_view id) const {
  return impl_->ground_index.find(id) >= 0;
}
const Catalog& Engine::catalog() const {
  return impl_->catalog;
}

std::vector<std::string> Engine::user_types() const {
  return {impl_->user_types.begin(), impl_->user_types.end()};
}
std::vector<std::string> Engine::grounds() const {
  return {impl_->grounds.begin(), impl_->grounds.end()};
}

}  // namespace aaj::policy
