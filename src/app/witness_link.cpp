#include "app/witness_link.h"

#include <spdlog/spdlog.h>

#include "core/time.h"
#include "journal/segments.h"
#include "pki/trust.h"
#include "witness/witness.h"

namespace aaj::app {

using nlohmann::json;

Result<std::shared_ptr<WitnessLink>> WitnessLink::start(const Config::Witness& cfg,
                                                        std::shared_ptr<http::Runtime> rt,
                                                        journal::Journal* journal,
                                                        std::filesystem::path journal_dir) {
  std::shared_ptr<WitnessLink> w(new WitnessLink());
  w->cfg_ = cfg;
  w->rt_ = rt;
  w->journal_ = journal;
  w->dir_ = std::move(journal_dir);
  witness::ClientOptions o;
  o.url = cfg.url;
  o.ca_file = cfg.ca_file.string();
  auto client = witness::WitnessClient::create(rt, o);
  if (!client) return client.error();
  w->client_ = *client;
  auto trust = pki::TrustStore::load(cfg.trust);
  if (!trust) return Error{"config", "witness.trust: " + trust.error().detail};
  w->verifier_ = std::make_shared<const pki::CmsVerifier>(*trust, nullptr);
  w->schedule();
  return w;
}

void WitnessLink::schedule() {
  std::weak_ptr<WitnessLink> weak = weak_from_this();
  rt_->after(std::chrono::seconds(cfg_.interval_seconds), [weak] {
    if (auto self = weak.lock()) self->tick();
  });
}

void WitnessLink::set_state(const std::string& state, const Error* e) {
  std::lock_guard<std::mutex> l(mu_);
  if (refused_.load() && state != "refused") return;  // a refusal stays reported
  state_ = state;
  if (e) last_error_ = *e;
}

void WitnessLink::tick() {
  // After a refusal every later head is inconsistent too: nothing more is offered (the refusal
  // stays in /healthz until someone restarts the server after looking into it).
  if (refused_.load()) return;
  std::string text = journal_->latest_head();
  json signed_head = text.empty() ? json() : json::parse(text, nullptr, false);
  int64_t size = signed_head.is_object() && signed_head["head"].is_object()
                     ? signed_head["head"].value("size", int64_t{0})
                     : 0;
  int64_t known;
  {
    std::lock_guard<std::mutex> l(mu_);
    known = cosigned_size_;
    if (busy_ || size == 0 || (known >= 0 && size <= known)) {
      if (!busy_) schedule();
      return;
    }
    busy_ = true;
  }
  if (known >= 0) return offer(signed_head, size);
  // After a start or a lost answer: what has the witness co-signed?
  auto self = shared_from_this();
  client_->latest([self, signed_head, size](Result<std::optional<witness::Checkpoint>> r) {
    if (!r) {
      self->set_state("unavailable", &r.error());
      std::lock_guard<std::mutex> l(self->mu_);
      self->busy_ = false;
      self->schedule();
      return;
    }
    {
      std::lock_guard<std::mutex> l(self->mu_);
      self->cosigned_size_ = *r ? (*r)->size : 0;
    }
    self->offer(signed_head, size);
  });
}

void WitnessLink::offer(const json& signed_head, int64_t size) {
  int64_t previous;
  {
    std::lock_guard<std::mutex> l(mu_);
    previous = cosigned_size_;
    offered_size_ = size;
  }
  std::vector<std::string> proof;
  if (previous > 0 && previous < size) {
    auto p =
        journal_->prove_consistency(static_cast<uint64_t>(previous), static_cast<uint64_t>(size));
    if (!p) {
      set_state("unavailable", &p.error());
      std::lock_guard<std::mutex> l(mu_);
      busy_ = false;
      schedule();
      return;
    }
    proof = std::move(*p);
  }
  auto self = shared_from_this();
  client_->submit(signed_head, previous, proof,
                  [self, signed_head, size](Result<witness::Cosignature> r) {
                    self->answered(signed_head, size, std::move(r));
                  });
}

void WitnessLink::answered(const json& signed_head, int64_t size, Result<witness::Cosignature> r) {
  auto done = [this] {
    std::lock_guard<std::mutex> l(mu_);
    busy_ = false;
    schedule();
  };
  if (!r) {
    const Error& e = r.error();
    if (e.code == "inconsistent") {
      refused_ = true;
      set_state("refused", &e);
      spdlog::error("{}",
                    json{{"event", "witness_refused"}, {"size", size}, {"detail", e.detail}}.dump(
                        -1, ' ', false, json::error_handler_t::replace));
    } else if (e.code == "wrong_previous_size" || e.code == "stale") {
      // The witness holds another size than we thought (a lost answer, a restart): ask it.
      std::lock_guard<std::mutex> l(mu_);
      cosigned_size_ = -1;
      last_error_ = e;
    } else {
      set_state("unavailable", &e);
    }
    return done();
  }
  // Kept only when it is the witness's signature over exactly this head.
  auto signer = witness::verify_cosignature(signed_head["head"], r->cosignature_b64, *verifier_,
                                            cfg_.bin, time::now());
  if (!signer) {
    set_state("bad_cosignature", &signer.error());
    return done();
  }
  json line = {
      {"head", signed_head["head"]}, {"witness", r->witness}, {"cosignature", r->cosignature_b64}};
  const std::string text = line.dump();
  const auto path = dir_ / journal::files::kCosignaturesFile;
  auto self = shared_from_this();
  rt_->post_blocking([self, path, text, size, done] {
    // A co-signature not kept is not counted: the next offer starts from the last one kept.
    if (Status s = journal::files::append_line(path, text); !s) {
      self->set_state("unavailable", &s.error());
      return done();
    }
    {
      std::lock_guard<std::mutex> l(self->mu_);
      self->cosigned_size_ = size;
      self->last_cosigned_at_ = time::format_astana(time::now());
    }
    self->set_state("ok", nullptr);
    done();
  });
}

json WitnessLink::health() const {
  std::lock_guard<std::mutex> l(mu_);
  return {
      {"url", cfg_.url},
      {"state", state_},
      {"cosigned_size", cosigned_size_ < 0 ? json(nullptr) : json(cosigned_size_)},
      {"offered_size", offered_size_},
      {"last_error", last_error_
                         ? json{{"code", last_error_->code}, {"detail", last_error_->detail}}
                         : json(nullptr)},
      {"last_cosigned_at", last_cosigned_at_.empty() ? json(nullptr) : json(last_cosigned_at_)}};
}

}  // namespace aaj::app
