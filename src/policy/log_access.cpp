// The log-access policy: loading (strict, like loader.cpp: this data decides who reads personal
// data, so a typo must stop the load), deciding, and applying a rule to a record.
#include "policy/log_access.h"

#include <algorithm>
#include <optional>
#include <set>

#include "core/ids.h"
#include "core/time.h"
#include "policy/internal.h"

namespace aaj::policy {

using nlohmann::json;

namespace {

constexpr const char* kKind = "log_access";
const std::set<std::string> kRoles = {"operator", "controller", "prosecutor", "admin"};
// The members of a record as journal::scan reads it; only "body" has members of its own.
const std::set<std::string> kRecordMembers = {"seq",  "at",   "at_astana", "type",
                                              "body", "prev", "hash"};

bool id_chars(std::string_view s, bool slash) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          (slash && c == '/')))
      return false;
  return true;
}

// "body.user.body_bin" → {"body","user","body_bin"}; `inside_body`: the path must go into body.
FieldPath field_path(const Obj& where, const std::string& text, bool inside_body) {
  FieldPath p;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string seg =
        text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!id_chars(seg, false) || seg.find('-') != std::string::npos)
      where.err("field path \"" + text + "\" has an empty or malformed part");
    p.push_back(seg);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!kRecordMembers.count(p[0]))
    where.err("field path \"" + text +
              "\" must start with a record member (seq, at, at_astana, type, body, prev, hash)");
  if (p.size() > 1 && p[0] != "body")
    where.err("field path \"" + text + "\": only body has members");
  if (inside_body && (p.size() < 2 || p[0] != "body"))
    where.err("field path \"" + text + "\" must name a member inside body");
  return p;
}

struct LogVersion {
  std::string id, rule_prefix;
  int64_t effective_from = 0;
  bool effective_from_verified = false;
  std::vector<LogRule> rules;
};

const json* find_path(const json& record, const FieldPath& path) {
  const json* at = &record;
  for (const std::string& seg : path) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(seg);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

const std::string* string_at(const json& record, const FieldPath& path) {
  const json* v = path.empty() ? nullptr : find_path(record, path);
  return v && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}

std::vector<std::pair<std::string, std::string>> as_pairs(std::vector<SourceFile> files) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(files.size());
  for (SourceFile& f : files) out.emplace_back(std::move(f.path), std::move(f.text));
  return out;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

struct LogAccessPolicy::Impl {
  std::string instrument;
  std::vector<LogVersion> versions;  // by effective_from, increasing
};

LogAccessPolicy::LogAccessPolicy() : impl_(std::make_unique<Impl>()) {}
LogAccessPolicy::~LogAccessPolicy() = default;

namespace {

std::vector<LogRule> read_rules(const Obj& o, const std::string& prefix) {
  // Named field sets, so one list serves several roles.
  std::vector<std::pair<std::string, std::vector<FieldPath>>> sets;
  auto read_paths = [&](const Obj& where, const std::string& key) {
    const json& arr = where.need(key);
    if (!arr.is_array() || arr.empty())
      where.err("field \"" + key + "\" must be a non-empty array of field paths");
    std::vector<FieldPath> out;
    std::set<std::string> seen;
    for (const json& e : arr) {
      if (!e.is_string()) where.err("field \"" + key + "\" must hold field paths (strings)");
      const std::string& text = e.get_ref<const std::string&>();
      if (!seen.insert(text).second)
        where.err("field \"" + key + "\" lists \"" + text + "\" twice");
      out.push_back(field_path(where, text, false));
    }
    return out;
  };
  if (o.has("field_sets")) {
    Obj fs(o.need("field_sets"), o.file(), "field_sets");
    for (auto it = fs.j().begin(); it != fs.j().end(); ++it) {
      if (!id_chars(it.key(), false) || it.key() == "all")
        fs.err("field set name \"" + it.key() + "\" must be [a-z0-9_-] and not \"all\"");
      sets.emplace_back(it.key(), read_paths(fs, it.key()));
    }
  }
  const json& arr = o.need("rules");
  if (!arr.is_array() || arr.empty()) o.err("field \"rules\" must be a non-empty array");
  std::vector<LogRule> rules;
  std::set<std::string> ids;
  for (size_t i = 0; i < arr.size(); ++i) {
    Obj r(arr[i], o.file(), "rules[" + std::to_string(i) + "]");
    r.only({"role", "id", "records", "fields", "basis", "note"});
    LogRule rule;
    rule.role = r.str("role");
    if (!kRoles.count(rule.role))
      r.err("unknown role \"" + rule.role + "\" (operator, controller, prosecutor, admin)");
    for (const LogRule& other : rules)
      if (other.role == rule.role) r.err("a second rule for role \"" + rule.role + "\"");
    const std::string id = r.str("id");
    if (!id_chars(id, true)) r.err("id \"" + id + "\" must be [a-z0-9_-/]");
    if (!ids.insert(id).second) r.err("id \"" + id + "\" used twice");
    rule.rule = prefix + "/" + id;
    r.str("basis");  // every rule says why: it is cited to the reader and to the auditor
    if (r.has("note")) r.str("note");

    Obj rec(r.need("records"), o.file(), r.at("records"));
    const std::string scope = rec.str("scope");
    if (scope == "all") {
      rec.only({"scope"});
      rule.scope = LogScope::All;
    } else if (scope == "reader_body") {
      rec.only({"scope", "body_bin"});
      rule.scope = LogScope::ReaderBody;
      rule.body_bin = field_path(rec, rec.str("body_bin"), true);
    } else if (scope == "resolution") {
      rec.only({"scope", "body_bin", "iin"});
      rule.scope = LogScope::Resolution;
      rule.body_bin = field_path(rec, rec.str("body_bin"), true);
      rule.iin = field_path(rec, rec.str("iin"), true);
    } else {
      rec.err("scope \"" + scope + "\" must be all, reader_body or resolution");
    }

    const json& f = r.need("fields");
    if (f.is_array()) {
      rule.fields = read_paths(r, "fields");
    } else if (f.is_string() && f.get_ref<const std::string&>() == "all") {
      rule.all_fields = true;
    } else if (f.is_string()) {
      const std::string& name = f.get_ref<const std::string&>();
      auto it =
          std::find_if(sets.begin(), sets.end(), [&](const auto& s) { return s.first == name; });
      if (it == sets.end())
        r.err("fields \"" + name + "\" is neither \"all\" nor a name in field_sets");
      rule.fields = it->second;
    } else {
      r.err("fields must be \"all\", the name of a field set, or an array of field paths");
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

}  // namespace

Result<std::shared_ptr<const LogAccessPolicy>> LogAccessPolicy::load_files(
    const std::vector<std::pair<std::string, std::string>>& files) {
  std::shared_ptr<LogAccessPolicy> p(new LogAccessPolicy());
  Impl& impl = *p->impl_;
  try {
    std::set<std::string> version_ids;
    for (const auto& [path, text] : files) {
      auto parsed = parse_policy_json(path, text);
      if (!parsed) return parsed.error();
      const json& j = *parsed;
      auto kind = j.find("kind");
      if (kind == j.end() || !kind->is_string() || kind->get<std::string>() != kKind) continue;
      Obj o(j, path, "");
      o.only_with_header({"rule_prefix", "field_sets", "rules"});
      const Header h = read_header(o);
      if (impl.instrument.empty()) impl.instrument = h.instrument;
      if (h.instrument != impl.instrument)
        o.err("instrument \"" + h.instrument + "\": every log_access file must belong to \"" +
              impl.instrument + "\"");
      LogVersion v;
      v.id = h.version;
      if (!version_ids.insert(v.id).second)
        o.err("version \"" + v.id + "\" is used by another file; versions are cited and unique");
      v.effective_from = h.effective_from;
      for (const LogVersion& other : impl.versions)
        if (other.effective_from == v.effective_from)
          o.err("another version (" + other.id + ") is effective from the same day");
      v.effective_from_verified = h.effective_from_verified;
      v.rule_prefix = o.str("rule_prefix");
      if (!id_chars(v.rule_prefix, true)) o.err("rule_prefix must be [a-z0-9_-/]");
      v.rules = read_rules(o, v.rule_prefix);
      impl.versions.push_back(std::move(v));
    }
  } catch (const Invalid& inv) {
    return Error{"policy_invalid", inv.detail};
  }
  if (impl.versions.empty())
    return Error{"policy_invalid", "no policy file of kind \"log_access\" found"};
  std::sort(
      impl.versions.begin(), impl.versions.end(),
      [](const LogVersion& a, const LogVersion& b) { return a.effective_from < b.effective_from; });
  return std::shared_ptr<const LogAccessPolicy>(std::move(p));
}

Result<std::shared_ptr<const LogAccessPolicy>> LogAccessPolicy::load_embedded() {
  static const Result<std::shared_ptr<const LogAccessPolicy>> cached =
      load_files(as_pairs(embedded_policy_files({"policy"})));
  return cached;
}

Result<std::shared_ptr<const LogAccessPolicy>> LogAccessPolicy::load_dir(
    const std::filesystem::path& root) {
  auto files = read_policy_dirs(root, {"policy"});
  if (!files) return files.error();
  return load_files(as_pairs(*files));
}

LogAccessDecision LogAccessPolicy::decide(std::string_view role, int64_t day) const {
  LogAccessDecision d;
  const auto& vs = impl_->versions;
  auto it = std::upper_bound(vs.begin(), vs.end(), day,
                             [](int64_t x, const LogVersion& v) { return x < v.effective_from; });
  if (it == vs.begin()) {
    d.code = "no_policy_in_force";
    d.rule = impl_->instrument;
    return d;
  }
  const LogVersion& v = *std::prev(it);
  d.version = v.id;
  d.effective_from = v.effective_from;
  d.effective_from_verified = v.effective_from_verified;
  for (const LogRule& r : v.rules)
    if (r.role == role) {
      d.allow = true;
      d.rule = r.rule;
      d.grant = &r;
      return d;
    }
  d.code = "log_access_not_granted";
  d.rule = v.rule_prefix;
  return d;
}

bool opens(const LogRule& rule, const json& record, const LogReaderScope& reader) {
  switch (rule.scope) {
    case LogScope::All:
      return true;
    case LogScope::ReaderBody: {
      const std::string* bin = string_at(record, rule.body_bin);
      return bin &&
             std::find(reader.bodies.begin(), reader.bodies.end(), *bin) != reader.bodies.end();
    }
    case LogScope::Resolution: {
      const ResolutionScope* res = reader.resolution;
      if (!res) return false;
      const std::string* bin = string_at(record, rule.body_bin);
      if (!bin || *bin != res->body_bin) return false;
      if (!res->iins.empty()) {
        const std::string* iin = string_at(record, rule.iin);
        if (!iin || std::find(res->iins.begin(), res->iins.end(), *iin) == res->iins.end())
          return false;
      }
      const std::string* at = string_at(record, {"at"});
      auto instant = at ? time::parse_iso8601(*at) : std::nullopt;
      if (!instant) return false;
      const int64_t day = time::astana_day(*instant);
      return day >= res->from_day && day <= res->to_day;
    }
  }
  return false;
}

json shape(const LogRule& rule, const json& record) {
  if (rule.all_fields) return record;
  json out = json::object();
  for (const FieldPath& p : rule.fields) {
    const json* v = find_path(record, p);
    if (!v) continue;
    json* dst = &out;
    for (size_t i = 0; i + 1 < p.size(); ++i) {
      json& next = (*dst)[p[i]];
      if (!next.is_object()) next = json::object();
      dst = &next;
    }
    (*dst)[p.back()] = *v;
  }
  return out;
}

Result<ResolutionDocument> parse_resolution(const json& doc, int64_t today) {
  auto bad = [](const std::string& detail) { return Error{"invalid_document", detail}; };
  if (!doc.is_object()) return bad("the resolution must be a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    static const std::set<std::string> known = {"number", "date",    "body_bin", "iins",
                                                "period", "purpose", "signed_at"};
    // A misspelt "iins" must not silently widen the resolution to the whole body.
    if (!known.count(it.key())) return bad("unknown field \"" + it.key() + "\"");
  }
  auto text = [&](const char* key) -> const std::string* {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  ResolutionDocument r;
  const std::string* number = text("number");
  if (!number || number->empty() || utf8_length(*number) > 64)
    return bad("number must be 1-64 characters");
  for (unsigned char c : *number)
    if (c < 0x20 || c == 0x7f) return bad("number must not hold control characters");
  r.number = *number;
  auto day_of = [&](const std::string* s, const char* key) -> Result<int64_t> {
    auto d = s ? time::parse_date(*s) : std::nullopt;
    if (!d) return bad(std::string(key) + " must be a real date YYYY-MM-DD (Astana calendar)");
    if (*d > today) return bad(std::string(key) + " must not be after today");
    return *d;
  };
  auto date = day_of(text("date"), "date");
  if (!date) return date.error();
  r.date = *date;
  const std::string* bin = text("body_bin");
  if (!bin || !ids::is_valid_bin(*bin)) return bad("body_bin must be a valid BIN");
  r.scope.body_bin = *bin;
  if (auto it = doc.find("iins"); it != doc.end()) {
    if (!it->is_array() || it->empty() || it->size() > 1000)
      return bad("iins, when given, must list 1-1000 IINs");
    for (const json& e : *it) {
      if (!e.is_string() || !ids::parse_iin(e.get_ref<const std::string&>()))
        return bad("iins must hold valid IINs, got " + e.dump());
      const std::string& iin = e.get_ref<const std::string&>();
      if (std::find(r.scope.iins.begin(), r.scope.iins.end(), iin) != r.scope.iins.end())
        return bad("iins lists " + iin + " twice");
      r.scope.iins.push_back(iin);
    }
  }
  auto period = doc.find("period");
  if (period == doc.end() || !period->is_object() || period->size() != 2 ||
      !period->contains("from") || !period->contains("to"))
    return bad("period must be {\"from\", \"to\"}");
  auto member = [&](const char* key) -> const std::string* {
    const json& v = (*period)[key];
    return v.is_string() ? &v.get_ref<const std::string&>() : nullptr;
  };
  auto from = day_of(member("from"), "period.from");
  if (!from) return from.error();
  auto to = day_of(member("to"), "period.to");
  if (!to) return to.error();
  if (*from > *to) return bad("period.from is after period.to");
  r.scope.from_day = *from;
  r.scope.to_day = *to;
  const std::string* purpose = text("purpose");
  if (!purpose || utf8_length(*purpose) < 3 || utf8_length(*purpose) > 2000)
    return bad("purpose must be 3-2000 characters");
  r.purpose = *purpose;
  return r;
}

}  // namespace aaj::policy
