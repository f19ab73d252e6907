// Loading and validating the policy data. Strict on purpose: this data is the law the system
// enforces, so a typo must stop the load with a message naming the file and field, never be
// read as a default (a misspelt "verified" or an unknown user type would otherwise pass silently).
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>

#include "core/embedded.h"
#include "core/time.h"
#include "policy/internal.h"

namespace aaj::embedded {
std::span<const File> bundle_policy();
}

namespace aaj::policy {

using nlohmann::json;

namespace {

// Parses JSON and rejects duplicate object keys, which nlohmann would otherwise resolve silently
// (last one wins) - a duplicated cell could flip a decision unnoticed.
json parse_strict(const SourceFile& f) {
  struct Frame {
    bool object = false;
    std::set<std::string> keys;
    std::string key;
    size_t index = 0;
  };
  std::vector<Frame> stack;
  std::string dup;
  auto where = [&] {
    // Frame i's key/index names frame i+1, so the innermost frame adds nothing.
    std::string p;
    for (size_t i = 0; i + 1 < stack.size(); ++i)
      p += stack[i].object ? "/" + stack[i].key : "/" + std::to_string(stack[i].index - 1);
    return p.empty() ? std::string("/") : p;
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    using E = json::parse_event_t;
    if ((ev == E::object_start || ev == E::array_start || ev == E::value) && !stack.empty() &&
        !stack.back().object)
      ++stack.back().index;
    if (ev == E::object_start || ev == E::array_start) {
      stack.push_back(Frame{ev == E::object_start, {}, {}, 0});
    } else if (ev == E::object_end || ev == E::array_end) {
      if (!stack.empty()) stack.pop_back();
    } else if (ev == E::key) {
      std::string k = parsed.get<std::string>();
      if (!stack.back().keys.insert(k).second && dup.empty())
        dup = "duplicate key \"" + k + "\" in object " + where();
      stack.back().key = k;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(f.text, cb);
  } catch (const json::exception& e) {
    fail(f.path + ": not valid JSON: " + e.what());
  }
  if (!dup.empty()) fail(f.path + ": " + dup);
  if (!j.is_object()) fail(f.path + ": the top level must be an object");
  return j;
}

json names_of(const Obj& parent, const std::string& key) {
  Obj n(parent.need(key), parent.file(), parent.at(key));
  n.only({"kk", "ru", "en"});
  json out = json::object();
  for (const char* lang : {"kk", "ru", "en"}) out[lang] = n.str(lang);
  return out;
}

bool parse_access(std::string_view s, Access& a, bool allow_default, bool& is_default) {
  is_default = false;
  if (s == "none")
    a = Access::None;
  else if (s == "truncated")
    a = Access::Truncated;
  else if (s == "full")
    a = Access::Full;
  else if (allow_default && s == "catalog_default")
    is_default = true;
  else
    return false;
  return true;
}

}  // namespace

struct EngineBuilder {
  std::shared_ptr<Engine> engine{new Engine()};
  EngineImpl& e = *engine->impl_;

  Result<std::shared_ptr<const Engine>> build(const std::vector<SourceFile>& files) {
    try {
      run(files);
    } catch (const Invalid& inv) {
      return Error{"policy_invalid", inv.detail};
    }
    return std::shared_ptr<const Engine>(engine);
  }

  void run(const std::vector<SourceFile>& files) {
    struct Doc {
      const SourceFile* file;
      json j;
      Header h;
    };
    std::vector<Doc> docs;
    for (const SourceFile& f : files) {
      json j = parse_strict(f);
      Header h = read_header(Obj(j, f.path, ""));
      const bool in_catalog = f.path.rfind("catalog/", 0) == 0;
      if ((h.kind == "catalog") != in_catalog)
        fail(f.path + ": kind \"" + h.kind + "\" does not belong in " +
             (in_catalog ? "catalog/" : "policy/") +
             " (catalog files go in catalog/, the rest in policy/)");
      docs.push_back(Doc{&f, std::move(j), h});
    }
    auto one_of_kind = [&](const std::string& kind) -> Doc& {
      Doc* found = nullptr;
      for (Doc& d : docs) {
        if (d.h.kind != kind) continue;
        if (found)
          fail(d.file->path + ": a second file of kind \"" + kind + "\" (the first is " +
               found->file->path + ")");
        found = &d;
      }
      if (!found) fail("no file of kind \"" + kind + "\" found");
      return *found;
    };
    Doc& vocab = one_of_kind("vocabulary");
    read_vocabulary(Obj(vocab.j, vocab.file->path, ""));
    Doc& cat = one_of_kind("catalog");
    read_catalog(Obj(cat.j, cat.file->path, ""));

    // Versions grouped by instrument, in file-name order; sorted by date below.
    std::map<std::string, int> instrument_of;
    std::set<std::string> version_ids;
    for (Doc& d : docs) {
      // Log-access files are another module's (log_access.cpp): same folder, same header.
      if (d.h.kind == "vocabulary" || d.h.kind == "catalog" || d.h.kind == "log_access") continue;
      Obj o(d.j, d.file->path, "");
      Kind kind = Kind::GroundMatrix;
      if (d.h.kind == "ground_matrix")
        kind = Kind::GroundMatrix;
      else if (d.h.kind == "resource_access")
        kind = Kind::ResourceAccess;
      else
        o.err("unknown kind \"" + d.h.kind +
              "\" (vocabulary, catalog, ground_matrix, resource_access)");
      if (!version_ids.insert(d.h.version).second)
        o.err("version \"" + d.h.version +
              "\" is used by another file; versions are cited and must be unique");
      auto [it, fresh] =
          instrument_of.emplace(d.h.instrument, static_cast<int>(e.instruments.size()));
      if (fresh) {
        Instrument ins;
        ins.id = e.intern(d.h.instrument);
        ins.kind = kind;
        e.instruments.push_back(std::move(ins));
      }
      Instrument& ins = e.instruments[it->second];
      if (ins.kind != kind)
        o.err("instrument \"" + d.h.instrument + "\" mixes kinds across its versions");
      for (const Version& v : ins.versions)
        if (v.effective_from == d.h.effective_from)
          o.err("instrument \"" + d.h.instrument + "\" already has a version effective from " +
                time::format_date(d.h.effective_from) + " (" + std::string(v.id) + ")");
      Version v;
      v.id = e.intern(d.h.version);
      v.effective_from = d.h.effective_from;
      v.effective_from_verified = d.h.effective_from_verified;
      std::vector<int> covered;
      if (kind == Kind::GroundMatrix)
        read_ground_matrix(o, v, covered);
      else
        read_resource_access(o, v, covered);
      for (int u : covered)
        claim(kind == Kind::GroundMatrix ? e.ground_instrument : e.resource_instrument, u,
              it->second, o);
      ins.versions.push_back(std::move(v));
    }
    for (Instrument& ins : e.instruments) {
      std::sort(ins.versions.begin(), ins.versions.end(), [](const Version& a, const Version& b) {
        return a.effective_from < b.effective_from;
      });
      for (const Version& v : ins.versions) ins.starts.push_back(v.effective_from);
    }
    for (size_t u = 0; u < e.user_types.size(); ++u) {
      if (e.ground_instrument[u] < 0)
        fail("user type \"" + std::string(e.user_types[u]) +
             "\" is in the vocabulary but no ground_matrix file governs it");
      if (e.resource_instrument[u] < 0)
        fail("user type \"" + std::string(e.user_types[u]) +
             "\" is in the vocabulary but no resource_access file governs it");
    }
  }

  // A user type is governed by exactly one instrument of each kind: otherwise two texts would
  // both claim to decide it and the answer would depend on file order.
  void claim(std::vector<int>& owner, int u, int instrument, const Obj& o) {
    if (owner[u] >= 0 && owner[u] != instrument)
      o.err("user type \"" + std::string(e.user_types[u]) +
            "\" is already governed by instrument \"" + std::string(e.instruments[owner[u]].id) +
            "\"");
    owner[u] = instrument;
  }

  void read_vocabulary(const Obj& o) {
    o.only_with_header({"grounds", "user_types"});
    auto list = [&](const std::string& key, std::vector<std::string_view>& ids) {
      const json& arr = o.need(key);
      if (!arr.is_array() || arr.empty()) o.err("field \"" + key + "\" must be a non-empty array");
      for (size_t i = 0; i < arr.size(); ++i) {
        Obj item(arr[i], o.file(), key + "[" + std::to_string(i) + "]");
        item.only({"id", "names", "appendix1_column", "appendix1_row", "note"});
        std::string id = item.str("id");
        names_of(item, "names");
        if (std::find(ids.begin(), ids.end(), id) != ids.end())
          item.err("id \"" + id + "\" listed twice");
        ids.push_back(e.intern(id));
      }
    };
    list("grounds", e.grounds);
    list("user_types", e.user_types);
    e.n_grounds = e.grounds.size();
    if (!e.user_type_index.build(e.user_types) || !e.ground_index.build(e.grounds))
      o.err("cannot index the ids");
    e.ground_instrument.assign(e.user_types.size(), -1);
    e.resource_instrument.assign(e.user_types.size(), -1);
  }

  void read_catalog(const Obj& o) {
    o.only_with_header({"key_types", "resources"});
    Obj kt(o.need("key_types"), o.file(), "key_types");
    std::set<std::string> key_types;
    for (auto it = kt.j().begin(); it != kt.j().end(); ++it) {
      kt.str(it.key());
      key_types.insert(it.key());
    }
    if (key_types.empty()) kt.err("must list at least one key type");
    const json& arr = o.need("resources");
    if (!arr.is_array() || arr.empty()) o.err("field \"resources\" must be a non-empty array");
    std::set<int64_t> numbers;
    std::vector<ResourceInfo>& res = e.catalog.resources_;
    for (size_t i = 0; i < arr.size(); ++i) {
      Obj r(arr[i], o.file(), "resources[" + std::to_string(i) + "]");
      r.only({"id", "number", "names", "holder", "keys", "fields", "default_access", "truncated",
              "note"});
      ResourceInfo info;
      info.id = r.str("id");
      for (const ResourceInfo& other : res)
        if (other.id == info.id) r.err("resource id \"" + info.id + "\" listed twice");
      if (!numbers.insert(r.positive("number")).second) r.err("number listed twice");
      info.names = names_of(r, "names");
      info.holder = r.str("holder");
      info.keys = r.strings("keys");
      for (const std::string& k : info.keys)
        if (!key_types.count(k)) r.err("key \"" + k + "\" is not one of key_types");
      info.fields = r.strings("fields");
      bool dflt;
      if (!parse_access(r.str("default_access"), info.default_access, false, dflt))
        r.err("default_access must be none, truncated or full");
      if (r.has("truncated")) {
        Obj t(r.need("truncated"), o.file(), r.at("truncated"));
        t.only({"keep", "basis"});
        info.truncated_keep = t.strings("keep");
        t.str("basis");
      }
      if (info.default_access == Access::Truncated && info.truncated_keep.empty())
        r.err("default_access is truncated but the resource has no \"truncated\" view");
      res.push_back(std::move(info));
    }
    e.n_resources = res.size();
    std::vector<uint16_t>& by_id = e.catalog.by_id_;
    for (size_t i = 0; i < res.size(); ++i) by_id.push_back(static_cast<uint16_t>(i));
    std::sort(by_id.begin(), by_id.end(),
              [&](uint16_t a, uint16_t b) { return res[a].id < res[b].id; });
    std::vector<std::string_view> ids;
    for (const ResourceInfo& r : res) ids.push_back(r.id);  // stable: the vector is complete
    if (!e.resource_index.build(ids)) o.err("cannot index the resource ids");
  }

  int user_type(const Obj& o, const std::string& id, const std::string& field) {
    int u = e.user_type_index.find(id);
    if (u < 0) o.err(field + ": unknown user type \"" + id + "\" (not in policy/vocabulary.json)");
    return u;
  }
  int ground(const Obj& o, const std::string& id, const std::string& field) {
    int g = e.ground_index.find(id);
    if (g < 0) o.err(field + ": unknown ground \"" + id + "\" (not in policy/vocabulary.json)");
    return g;
  }
  int resource(const Obj& o, const std::string& id, const std::string& field) {
    int r = e.resource_index.find(id);
    if (r < 0) o.err(field + ": unknown resource \"" + id + "\" (not in catalog/)");
    return r;
  }

  void read_ground_matrix(const Obj& o, Version& v, std::vector<int>& covered) {
    v.content_known = o.boolean("content_known");
    std::string prefix = o.str("rule_prefix");
    v.rule_prefix = e.intern(prefix);
    if (!v.content_known) {
      o.only_with_header({"content_known", "content_unknown_reason", "rule_prefix", "user_types"});
      o.str("content_unknown_reason");
      for (const std::string& id : o.strings("user_types"))
        covered.push_back(user_type(o, id, "user_types"));
      return;
    }
    o.only_with_header({"content_known", "rule_prefix", "listing_verified", "columns", "rows"});
    // Refusals of a user type with no row, or a ground with no column, are as certain as the
    // appendix's list of rows and columns.
    const bool listing_verified = o.boolean("listing_verified");
    std::vector<int> cols;
    for (const std::string& id : o.strings("columns")) cols.push_back(ground(o, id, "columns"));
    v.ground.assign(e.user_types.size() * e.n_grounds,
                    GroundCell{v.rule_prefix, false, listing_verified});
    const json& rows = o.need("rows");
    if (!rows.is_array() || rows.empty()) o.err("field \"rows\" must be a non-empty array");
    std::set<int64_t> row_numbers;
    for (size_t i = 0; i < rows.size(); ++i) {
      Obj row(rows[i], o.file(), "rows[" + std::to_string(i) + "]");
      row.only(
          {"row", "user_type", "title_kk", "plus_count_in_source", "confidence", "note", "cells"});
      const int64_t n = row.positive("row");
      if (!row_numbers.insert(n).second) row.err("row number " + std::to_string(n) + " used twice");
      const std::string ut = row.str("user_type");
      const int u = user_type(row, ut, "user_type");
      if (std::find(covered.begin(), covered.end(), u) != covered.end())
        row.err("user type \"" + ut + "\" has two rows");
      covered.push_back(u);
      const std::string row_rule = prefix + "/row" + std::to_string(n);
      std::string_view row_rule_v = e.intern(row_rule);
      for (size_t g = 0; g < e.n_grounds; ++g)
        v.ground[u * e.n_grounds + g] = GroundCell{row_rule_v, false, listing_verified};
      Obj cells(row.need("cells"), o.file(), row.at("cells"));
      for (auto it = cells.j().begin(); it != cells.j().end(); ++it) {
        const int g = ground(cells, it.key(), "cell");
        if (std::find(cols.begin(), cols.end(), g) == cols.end())
          cells.err("\"" + it.key() + "\" is not one of this appendix's columns");
      }
      for (int g : cols) {
        const std::string gname(e.grounds[g]);
        if (!cells.has(gname)) cells.err("missing the cell for column \"" + gname + "\"");
        Obj c(cells.need(gname), o.file(), cells.at(gname));
        c.only({"allowed", "verified", "confidence", "alternative", "note"});
        GroundCell cell;
        cell.allowed = c.boolean("allowed");
        cell.verified = c.boolean("verified");
        if (c.has("alternative")) {
          const std::string alt = c.str("alternative");
          const int ag = ground(c, alt, "alternative");
          if (ag == g || std::find(cols.begin(), cols.end(), ag) == cols.end())
            c.err("alternative \"" + alt + "\" must be another column of this appendix");
          if (cell.verified) c.err("a cell with an alternative cannot be verified");
        }
        if (c.has("confidence")) c.str("confidence");
        cell.rule = e.intern(row_rule + "/" + gname);
        v.ground[u * e.n_grounds + g] = cell;
      }
    }
  }

  void read_resource_access(const Obj& o, Version& v, std::vector<int>& covered) {
    v.content_known = o.boolean("content_known");
    std::string prefix = o.str("rule_prefix");
    v.rule_prefix = e.intern(prefix);
    for (const std::string& id : o.strings("user_types"))
      covered.push_back(user_type(o, id, "user_types"));
    if (!v.content_known) {
      o.only_with_header({"content_known", "content_unknown_reason", "rule_prefix", "user_types"});
      o.str("content_unknown_reason");
      return;
    }
    o.only_with_header({"content_known", "rule_prefix", "user_types", "verified", "verified_reason",
                        "all_resources", "resources", "user_type_resources"});
    const bool verified = o.boolean("verified");
    if (o.has("verified_reason")) o.str("verified_reason");
    const std::vector<ResourceInfo>& cat = e.catalog.resources_;
    std::vector<std::string_view> rules;
    for (const ResourceInfo& r : cat) rules.push_back(e.intern(prefix + "/" + r.id));

    // Resolves an access word for resource r; "catalog_default" means the catalogue's default.
    auto resolve = [&](const Obj& where, const std::string& word, size_t r) {
      Access a;
      bool dflt;
      if (!parse_access(word, a, true, dflt))
        where.err("access \"" + word + "\" must be none, truncated, full or catalog_default");
      if (dflt) a = cat[r].default_access;
      if (a == Access::Truncated && cat[r].truncated_keep.empty())
        where.err("grants truncated access to " + cat[r].id +
                  ", which has no truncated view in the catalogue");
      return a;
    };
    // One entry: "full" or {"access": "full", "verified": false, "note": "..."}.
    auto entry = [&](const Obj& parent, const std::string& key, size_t r) {
      const json& j = parent.need(key);
      Grant g{rules[r], Access::None, verified};
      if (j.is_string()) {
        g.access = resolve(parent, j.get<std::string>(), r);
      } else {
        Obj eo(j, o.file(), parent.at(key));
        eo.only({"access", "verified", "note"});
        g.access = resolve(eo, eo.str("access"), r);
        if (eo.has("verified")) g.verified = eo.boolean("verified");
        if (eo.has("note")) eo.str("note");
      }
      return g;
    };

    v.grants.assign(e.user_types.size() * e.n_resources,
                    Grant{v.rule_prefix, Access::None, verified});
    const std::string all = o.str("all_resources");
    for (int u : covered)
      for (size_t r = 0; r < cat.size(); ++r)
        v.grants[u * e.n_resources + r] = Grant{rules[r], resolve(o, all, r), verified};
    if (o.has("resources")) {
      Obj res(o.need("resources"), o.file(), "resources");
      for (auto it = res.j().begin(); it != res.j().end(); ++it) {
        const size_t r = static_cast<size_t>(resource(res, it.key(), "resources"));
        Grant g = entry(res, it.key(), r);
        for (int u : covered) v.grants[u * e.n_resources + r] = g;
      }
    }
    if (o.has("user_type_resources")) {
      Obj per(o.need("user_type_resources"), o.file(), "user_type_resources");
      for (auto it = per.j().begin(); it != per.j().end(); ++it) {
        const int u = user_type(per, it.key(), "user_type_resources");
        if (std::find(covered.begin(), covered.end(), u) == covered.end())
          per.err("user type \"" + it.key() + "\" is not in this file's user_types");
        Obj m(it.value(), o.file(), per.at(it.key()));
        for (auto jt = m.j().begin(); jt != m.j().end(); ++jt) {
          const size_t r = static_cast<size_t>(resource(m, jt.key(), "resource"));
          v.grants[u * e.n_resources + r] = entry(m, jt.key(), r);
        }
      }
    }
  }
};

Result<nlohmann::json> parse_policy_json(const std::string& path, const std::string& text) {
  try {
    return parse_strict(SourceFile{path, text});
  } catch (const Invalid& inv) {
    return Error{"policy_invalid", inv.detail};
  }
}

Header read_header(const Obj& o) {
  Header h;
  h.instrument = o.str("instrument");
  h.kind = o.str("kind");
  h.version = o.str("version");
  h.effective_from = o.date("effective_from");
  o.str("effective_from_basis");
  h.effective_from_verified = o.boolean("effective_from_verified");
  o.str("source");
  if (o.has("notes")) o.strings("notes");
  return h;
}

namespace {

// Only the data folders named, top level only, JSON only: a README beside the data is fine.
bool wanted(std::string_view path, std::initializer_list<const char*> dirs) {
  auto ends = [&](std::string_view s) {
    return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
  };
  for (std::string_view dir : dirs)
    if (path.size() > dir.size() && path.rfind(dir, 0) == 0 && path[dir.size()] == '/' &&
        path.find('/', dir.size() + 1) == std::string_view::npos && ends(".json"))
      return true;
  return false;
}

void sort_by_path(std::vector<SourceFile>& files) {
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
}

}  // namespace

std::vector<SourceFile> embedded_policy_files(std::initializer_list<const char*> dirs) {
  std::vector<SourceFile> files;
  for (const embedded::File& f : embedded::bundle_policy())
    if (wanted(f.path, dirs)) files.push_back(SourceFile{std::string(f.path), std::string(f.data)});
  sort_by_path(files);
  return files;
}

Result<std::vector<SourceFile>> read_policy_dirs(const std::filesystem::path& root,
                                                 std::initializer_list<const char*> dirs) {
  namespace fs = std::filesystem;
  std::vector<SourceFile> files;
  for (const char* dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(root / dir, ec))
      return Error{"policy_unreadable", (root / dir).string() + ": not a directory"};
    for (const fs::directory_entry& de : fs::directory_iterator(root / dir, ec)) {
      std::string rel = std::string(dir) + "/" + de.path().filename().string();
      if (!wanted(rel, dirs) || !de.is_regular_file()) continue;
      std::ifstream in(de.path(), std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      if (!in) return Error{"policy_unreadable", de.path().string() + ": cannot read"};
      files.push_back(SourceFile{rel, ss.str()});
    }
    if (ec) return Error{"policy_unreadable", (root / dir).string() + ": " + ec.message()};
  }
  sort_by_path(files);
  return files;
}

Result<std::shared_ptr<const Engine>> Engine::load_embedded() {
  // Parsed once: the embedded data cannot change while the process runs.
  static const Result<std::shared_ptr<const Engine>> cached =
      EngineBuilder{}.build(embedded_policy_files({"policy", "catalog"}));
  return cached;
}

Result<std::shared_ptr<const Engine>> Engine::load_dir(const std::filesystem::path& root) {
  auto files = read_policy_dirs(root, {"policy", "catalog"});
  if (!files) return files.error();
  return EngineBuilder{}.build(*files);
}

}  // namespace aaj::policy
