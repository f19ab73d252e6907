// `aaj log verify|prove|check-proof|export|seal` and `aaj verify-seal`: the event log's evidence
// tools (docs/api.md, docs/journal-format.md). The work is in src/evidence; this file parses
// options and finds the log and the trust anchors from a configuration or from arguments.
#include <iostream>
#include <memory>
#include <optional>

#include "app/config.h"
#include "cli/commands.h"
#include "evidence/log_tool.h"
#include "evidence/package.h"
#include "journal/journal.h"
#include "pki/system_key.h"

namespace aaj::cli {
namespace {

struct LogOptions {
  std::string config, dir, to, file;
  std::vector<std::string> trust, crls;
  uint64_t seq = 0, size = 0, from = 0;
};

void print_error(const std::string& code, const std::string& detail) {
  std::cout << nlohmann::json{{"ok", false}, {"error", {{"code", code}, {"detail", detail}}}}.dump(
                   -1, ' ', false, nlohmann::json::error_handler_t::replace)
            << "\n";
}

// The log directory and the anchors: from --config (journal.dir, pki.trust, pki.crl_dir), or
// from --dir with --trust/--crl.
struct Where {
  std::filesystem::path dir;
  evidence::Anchors anchors;
};
std::optional<Where> where(const LogOptions& o, int& code) {
  Where w;
  if (!o.config.empty()) {
    auto cfg = app::load_config(o.config);
    if (!cfg) {
      print_error(cfg.error().code, cfg.error().detail);
      code = 2;
      return std::nullopt;
    }
    w.dir = cfg->journal_dir;
    w.anchors.trust = cfg->trust;
    w.anchors.crl_dir = cfg->crl_dir;
  }
  if (!o.dir.empty()) w.dir = o.dir;
  for (const auto& t : o.trust) w.anchors.trust.emplace_back(t);
  for (const auto& c : o.crls) w.anchors.crl_files.emplace_back(c);
  if (w.dir.empty()) {
    print_error("bad_argument", "give --config or --dir");
    code = 2;
    return std::nullopt;
  }
  return w;
}

std::shared_ptr<const pki::CmsVerifier> verifier_for(const Where& w, bool required, int& code) {
  if (w.anchors.trust.empty()) {
    if (required) {
      print_error("bad_argument", "signatures need trust anchors: --trust CA.pem (or --config)");
      code = 2;
    }
    return nullptr;
  }
  auto v = evidence::make_verifier(w.anchors);
  if (!v) {
    print_error(v.error().code, v.error().detail);
    code = 2;
    return nullptr;
  }
  return *v;
}

}  // namespace

void attach_log_commands(CLI::App& app, int& code) {
  auto o = std::make_shared<LogOptions>();
  auto* log = app.add_subcommand("log", "The event log: verify, prove, archive");
  log->require_subcommand(1);
  auto common = [o](CLI::App* c) {
    c->add_option("--config", o->config, "Installation configuration (journal.dir, pki.trust)");
    c->add_option("--dir", o->dir, "A log or archive folder instead of the configured one");
    c->add_option("--trust", o->trust, "Trusted CA certificates (PEM/DER)");
    c->add_option("--crl", o->crls, "CRL files");
  };

  auto* ver = log->add_subcommand(
      "verify", "Check the whole log (or an archive): chain, seals, signed heads, signatures");
  common(ver);
  ver->callback([o, &code] {
    auto w = where(*o, code);
    if (!w) return;
    auto v = verifier_for(*w, false, code);
    if (code) return;
    code = evidence::log_verify(w->dir, v.get(), std::cout);
  });

  auto* prove = log->add_subcommand("prove", "An inclusion (--seq) or consistency (--from) proof");
  common(prove);
  prove->add_option("--seq", o->seq, "The record to prove");
  prove->add_option("--from", o->from, "The smaller tree size of a consistency proof");
  prove->add_option("--size", o->size, "The tree size (default: the newest signed head's)");
  prove->callback([o, &code] {
    auto w = where(*o, code);
    if (!w) return;
    std::optional<uint64_t> size = o->size ? std::optional<uint64_t>(o->size) : std::nullopt;
    if ((o->seq == 0) == (o->from == 0)) {
      print_error("bad_argument", "give exactly one of --seq and --from");
      code = 2;
      return;
    }
    code = o->seq ? evidence::log_prove_inclusion(w->dir, o->seq, size, std::cout)
                  : evidence::log_prove_consistency(w->dir, o->from, size, std::cout);
  });

  auto* check = log->add_subcommand("check-proof", "Check a proof file offline");
  check->add_option("file", o->file)->required();
  common(check);
  check->callback([o, &code] {
    Where w;
    for (const auto& t : o->trust) w.anchors.trust.emplace_back(t);
    for (const auto& c : o->crls) w.anchors.crl_files.emplace_back(c);
    if (!o->config.empty()) {
      auto cfg = app::load_config(o->config);
      if (cfg) w.anchors.trust.insert(w.anchors.trust.end(), cfg->trust.begin(), cfg->trust.end());
    }
    auto v = verifier_for(w, true, code);
    if (!v) return;
    code = evidence::check_proof(o->file, *v, std::cout);
  });

  auto* exp = log->add_subcommand("export", "Copy the sealed segments to an archive folder");
  common(exp);
  exp->add_option("--to", o->to, "The archive folder")->required();
  exp->callback([o, &code] {
    auto w = where(*o, code);
    if (!w) return;
    auto v = verifier_for(*w, false, code);
    if (code) return;
    code = evidence::log_export(w->dir, o->to, v.get(), std::cout);
  });

  auto* seal = log->add_subcommand(
      "seal", "Seal the active segment now (the server must be stopped: it owns the log)");
  seal->add_option("--config", o->config)->required();
  seal->callback([o, &code] {
    auto cfg = app::load_config(o->config);
    if (!cfg) {
      print_error(cfg.error().code, cfg.error().detail);
      code = 2;
      return;
    }
    if (cfg->system_cert.empty()) {
      print_error("config", "sealing needs journal.system_cert and journal.system_key");
      code = 2;
      return;
    }
    auto key = pki::SystemKey::load(cfg->system_cert, cfg->system_key);
    if (!key) {
      print_error(key.error().code, key.error().detail);
      code = 2;
      return;
    }
    journal::Options jo;
    jo.tree = true;
    jo.log_id = cfg->log_id;
    jo.sign = [k = *key](std::string_view c) { return k->sign_base64(c); };
    auto j = journal::Journal::open(cfg->journal_dir, jo);
    if (!j) {
      print_error(j.error().code, j.error().detail);
      code = 1;
      return;
    }
    Status s = (*j)->seal_segment();
    if (!s) {
      print_error(s.error().code, s.error().detail);
      code = 1;
      return;
    }
    std::cout << nlohmann::json{{"ok", true}, {"records", (*j)->last_seq()}}.dump() << "\n";
  });

  auto* ve = app.add_subcommand("verify-evidence",
                                "Check an evidence package offline (GET /api/v1/evidence)");
  ve->add_option("file", o->file, "The evidence package (JSON)")->required();
  ve->add_option("--trust", o->trust, "Trusted CA certificates")->required();
  ve->callback([o, &code] {
    std::vector<std::filesystem::path> trust(o->trust.begin(), o->trust.end());
    code = evidence::verify_evidence(o->file, trust, std::cout);
  });

  auto* vs = app.add_subcommand("verify-seal", "Check the seal of an answer offline");
  vs->add_option("file", o->file, "The answer as received (JSON)")->required();
  vs->add_option("--trust", o->trust, "Trusted CA certificates")->required();
  vs->add_option("--crl", o->crls, "CRL files");
  vs->callback([o, &code] {
    Where w;
    for (const auto& t : o->trust) w.anchors.trust.emplace_back(t);
    for (const auto& c : o->crls) w.anchors.crl_files.emplace_back(c);
    auto v = verifier_for(w, true, code);
    if (!v) return;
    code = evidence::verify_answer_seal(o->file, *v, std::cout);
  });
}

}  // namespace aaj::cli
