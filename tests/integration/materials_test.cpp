// The life of obtained information through the real server (R-USE-2, R-USE-3): an answer is kept
// with its material, exported as JSON and PDF watermarked with its user, the user is reminded of
// copies not yet destroyed until they confirm, and a controller destroys the material's answers by
// a signed act; the event log records every step in order and still verifies.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <regex>
#include <set>

#include "core/time.h"
#include "harness.h"
#include "pki/openssl_util.h"

using aaj::testing::Installation;
using aaj::testing::run_aaj;
using nlohmann::json;

namespace {

Installation* inst = nullptr;

// The material every request of this test is attached to.
const json kGround = {{"type", "criminal_case"}, {"number", "251234567890777"}};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string header(const aaj::client::HttpResult& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

// The raw bytes of the last member "data" of a single-resource answer.
std::string raw_data(const std::string& body) {
  auto p = body.rfind(",\"data\":");
  if (p == std::string::npos) return "";
  return body.substr(p + 8, body.size() - p - 9);
}

class Materials : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(aaj::time::load_astana_zone().ok());
    // Remind at once, so the test need not wait an hour.
    inst = new Installation("[exports]\nremind_after_minutes = 0\n");
    inst->start();
  }
  static void TearDownTestSuite() {
    delete inst;
    inst = nullptr;
  }
  static long post(aaj::client::ApiClient& api, const std::string& path, const json& body,
                   const std::string& token, json* out = nullptr) {
    auto r = api.post(path, body.dump(), token);
    if (!r) return -1;
    if (out) *out = r->body;
    return r->status;
  }
  static json destruction_act(const std::string& number) {
    return {{"material", kGround},
            {"act",
             {{"number", number},
              {"date", aaj::time::format_date(aaj::time::astana_day(aaj::time::now()))}}},
            {"reason", "Іс мұрағатқа тапсырылды, материалдар жойылды / дело уничтожено"},
            {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  }
  static std::string signed_by(const json& person, const json& doc) {
    auto cms = inst->sign_key(person)->sign(doc.dump());
    if (!cms) throw std::runtime_error("sign: " + cms.error().code);
    return aaj::pki::base64_encode(*cms);
  }
};

TEST_F(Materials, AnswersAreKeptExportedRemindedAndDestroyedWithTheirMaterial) {
  const json& officer = inst->user("investigator_mia");
  const json& controller = inst->staff("controller");  // MIA
  const json& other = inst->user("prosecutor");        // another body
  auto api = inst->api();
  std::string token = inst->enter(*api, officer);

  // 1. An answer: kept with its material, its exact bytes and their hash.
  auto r = aaj::client::send_request(
      *api, token, *inst->sign_key(officer),
      aaj::client::make_document("R01", kGround, {{"iin", "860417300015"}}, "Тергеу әрекеттері"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->raw;
  const std::string request_id = r->body["request_id"];
  const std::string data = raw_data(r->raw);
  ASSERT_FALSE(data.empty());
  ASSERT_EQ(json::parse(data), r->body["data"]);
  const std::string data_sha = aaj::pki::sha256_hex(data);
  // Several resources in one request: one stored row each.
  json many = aaj::client::make_document("R01", kGround, {{"iin", "860417300015"}}, "Тергеу");
  many.erase("resource");
  many["resources"] = {"R01", "R11"};
  auto rm = aaj::client::send_request(*api, token, *inst->sign_key(officer), many);
  ASSERT_TRUE(rm.ok());
  ASSERT_EQ(rm->status, 200) << rm->raw;
  const std::string multi_id = rm->body["request_id"];

  // Read back through the system: the same bytes.
  auto read = api->get("/api/v1/answers?request_id=" + request_id, token);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->status, 200) << read->raw;
  EXPECT_EQ(raw_data(read->raw), data);
  EXPECT_EQ(read->body["answer_sha256"], data_sha);
  EXPECT_EQ(read->body["material"], kGround);
  // request_id need not be the first parameter (other parameters are ignored).
  auto later = api->get("/api/v1/answers?x=1&request_id=" + request_id, token);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->status, 200) << later->raw;
  EXPECT_EQ(raw_data(later->raw), data);
  // Several resources: each stored answer is the data answered, with the hash of its bytes.
  auto read_many = api->get("/api/v1/answers?request_id=" + multi_id, token);
  ASSERT_TRUE(read_many.ok());
  ASSERT_EQ(read_many->status, 200) << read_many->raw;
  ASSERT_EQ(read_many->body["results"].size(), 2u) << read_many->raw;
  for (size_t k = 0; k < 2; ++k) {
    const json& stored = read_many->body["results"][k];
    EXPECT_EQ(stored["resource"], rm->body["results"][k]["resource"]);
    EXPECT_EQ(stored["data"], rm->body["results"][k]["data"]);
    EXPECT_EQ(stored["answer_sha256"], aaj::pki::sha256_hex(stored["data"].dump()));
  }

  // 2. Export as JSON: the stored data, watermarked with the user, the request, the export.
  auto ej = api->post("/api/v1/exports",
                      json{{"request_id", request_id}, {"format", "json"}}.dump(), token);
  ASSERT_TRUE(ej.ok());
  ASSERT_EQ(ej->status, 200) << ej->raw;
  EXPECT_EQ(header(*ej, "content-type").rfind("application/json", 0), 0u);
  EXPECT_NE(header(*ej, "content-disposition").find("attachment"), std::string::npos);
  const std::string json_export = header(*ej, "x-export-id");
  ASSERT_FALSE(json_export.empty());
  EXPECT_EQ(header(*ej, "x-export-sha256"), aaj::pki::sha256_hex(ej->raw));
  const json& wm = ej->body["watermark"];
  EXPECT_EQ(wm["user"]["iin"], officer["iin"]);
  EXPECT_EQ(wm["user"]["full_name"], officer["full_name"]);
  EXPECT_EQ(wm["request_id"], request_id);
  EXPECT_EQ(wm["export_id"], json_export);
  EXPECT_NE(wm["exported_at"].get<std::string>().find("+05:00"), std::string::npos);
  EXPECT_EQ(ej->body["request_id"], request_id);
  EXPECT_EQ(ej->body["resource"], "R01");
  EXPECT_EQ(ej->body["answer_sha256"], data_sha);
  EXPECT_EQ(raw_data(ej->raw), data);  // byte for byte what the officer got
  auto ejm = api->post("/api/v1/exports", json{{"request_id", multi_id}, {"format", "json"}}.dump(),
                       token);
  ASSERT_TRUE(ejm.ok());
  ASSERT_EQ(ejm->status, 200) << ejm->raw;
  ASSERT_EQ(ejm->body["results"].size(), 2u);
  EXPECT_EQ(ejm->body["results"][1]["resource"], "R11");
  EXPECT_EQ(ejm->body["results"][1]["truncated"], true);
  const std::string multi_export = header(*ejm, "x-export-id");

  // 3. Export as PDF: a real PDF with the watermark.
  auto ep = api->post("/api/v1/exports", json{{"request_id", request_id}, {"format", "pdf"}}.dump(),
                      token);
  ASSERT_TRUE(ep.ok());
  ASSERT_EQ(ep->status, 200) << ep->raw.substr(0, 300);
  EXPECT_EQ(header(*ep, "content-type"), "application/pdf");
  const std::string pdf_export = header(*ep, "x-export-id");
  EXPECT_EQ(ep->raw.compare(0, 5, "%PDF-"), 0);
  EXPECT_NE(ep->raw.find("%%EOF"), std::string::npos);
  static const std::regex page(R"(/Type\s*/Page[^s])");
  EXPECT_GE(std::distance(std::sregex_iterator(ep->raw.begin(), ep->raw.end(), page),
                          std::sregex_iterator()),
            1);
  if (std::system("command -v pdftotext >/dev/null 2>&1") == 0) {
    auto file = inst->dir() / "export.pdf";
    std::ofstream(file, std::ios::binary) << ep->raw;
    auto text = aaj::testing::run_shell("pdftotext -enc UTF-8 '" + file.string() + "' -");
    EXPECT_NE(text.out.find(officer["iin"].get<std::string>()), std::string::npos);
    EXPECT_NE(text.out.find(officer["full_name"].get<std::string>()), std::string::npos);
    EXPECT_NE(text.out.find(pdf_export), std::string::npos);
    EXPECT_NE(text.out.find(request_id), std::string::npos);
    EXPECT_NE(text.out.find("+05:00"), std::string::npos);
  }

  // 4. Nobody else exports or reads it.
  auto api2 = inst->api();
  std::string other_token = inst->enter(*api2, other);
  json refused;
  EXPECT_EQ(post(*api2, "/api/v1/exports", {{"request_id", request_id}, {"format", "json"}},
                 other_token, &refused),
            403);
  EXPECT_EQ(refused["error"]["code"], "not_your_answer");
  EXPECT_EQ(api2->get("/api/v1/answers?request_id=" + request_id, other_token)->status, 403);
  EXPECT_EQ(
      post(*api2, "/api/v1/exports/destroyed", {{"export_id", pdf_export}}, other_token, &refused),
      403);
  EXPECT_EQ(refused["error"]["code"], "not_your_export");

  // Malformed and unknown.
  EXPECT_EQ(post(*api, "/api/v1/exports", {{"request_id", request_id}, {"format", "docx"}}, token),
            400);
  EXPECT_EQ(post(*api, "/api/v1/exports", {{"request_id", "<script>"}, {"format", "json"}}, token),
            400);
  EXPECT_EQ(post(*api, "/api/v1/exports",
                 {{"request_id", "00000000-0000-4000-8000-000000000000"}, {"format", "json"}},
                 token, &refused),
            404);
  EXPECT_EQ(refused["error"]["code"], "answer_unknown");

  // 5. Unconfirmed exports are listed and reminded: /me, the EDS entry, the controller's list.
  auto listed = api->get("/api/v1/exports?state=unconfirmed", token);
  ASSERT_EQ(listed->status, 200);
  EXPECT_EQ(listed->body["exports"].size(), 3u);
  auto me = api->get("/api/v1/me", token);
  ASSERT_EQ(me->status, 200);
  ASSERT_TRUE(me->body.contains("unconfirmed_exports")) << me->raw;
  EXPECT_EQ(me->body["unconfirmed_exports"].size(), 3u);
  EXPECT_EQ(me->body["unconfirmed_exports"][0]["export_id"], json_export);
  EXPECT_EQ(me->body["unconfirmed_exports"][0]["request_id"], request_id);
  {
    auto api3 = inst->api();
    auto ch = api3->post("/api/v1/auth/challenge", "{}");
    ASSERT_TRUE(ch.ok());
    auto nonce = aaj::pki::base64_decode(ch->body["nonce"].get<std::string>());
    auto cms = inst->auth_key(officer)->sign(*nonce);
    ASSERT_TRUE(cms.ok());
    json entry;
    ASSERT_EQ(
        post(*api3, "/api/v1/auth/eds",
             {{"challenge_id", ch->body["challenge_id"]}, {"cms", aaj::pki::base64_encode(*cms)}},
             "", &entry),
        200);
    EXPECT_EQ(entry["unconfirmed_exports"].size(), 3u);
    bool reminded = false;
    for (const auto& rem : entry["reminders"]) reminded |= rem["code"] == "exports_unconfirmed";
    EXPECT_TRUE(reminded) << entry.dump();
  }
  auto api4 = inst->api();
  std::string ctl_token = inst->enter(*api4, controller);
  auto ctl_list = api4->get("/api/v1/controller/exports", ctl_token);
  ASSERT_EQ(ctl_list->status, 200) << ctl_list->raw;
  EXPECT_EQ(ctl_list->body["exports"].size(), 3u);
  EXPECT_EQ(ctl_list->body["exports"][0]["iin"], officer["iin"]);
  EXPECT_EQ(ctl_list->body["overdue"], 3);

  // 6. The user confirms destroying the copies: no longer listed nor reminded.
  json confirmed;
  ASSERT_EQ(
      post(*api, "/api/v1/exports/destroyed", {{"export_id", json_export}}, token, &confirmed), 200)
      << confirmed.dump();
  EXPECT_EQ(confirmed["already_confirmed"], false);
  ASSERT_EQ(
      post(*api, "/api/v1/exports/destroyed", {{"export_id", json_export}}, token, &confirmed),
      200);
  EXPECT_EQ(confirmed["already_confirmed"], true);
  listed = api->get("/api/v1/exports", token);
  EXPECT_EQ(listed->body["exports"].size(), 2u);
  for (const auto& e : listed->body["exports"]) EXPECT_NE(e["export_id"], json_export);
  ASSERT_EQ(post(*api, "/api/v1/exports/destroyed", {{"export_id", pdf_export}}, token), 200);
  ASSERT_EQ(post(*api, "/api/v1/exports/destroyed", {{"export_id", multi_export}}, token), 200);
  EXPECT_TRUE(api->get("/api/v1/exports", token)->body["exports"].empty());
  EXPECT_EQ(api->get("/api/v1/exports?state=all", token)->body["exports"].size(), 3u);
  EXPECT_FALSE(api->get("/api/v1/me", token)->body.contains("unconfirmed_exports"));
  EXPECT_TRUE(api4->get("/api/v1/controller/exports", ctl_token)->body["exports"].empty());

  // 7. A controller of another body cannot destroy it: nothing of this material in their body.
  auto granted = run_aaj({"staff", "add", "--config", inst->config().string(), "--iin",
                          other["iin"].get<std::string>(), "--role", "controller", "--body-bin",
                          other["body_bin"].get<std::string>()});
  ASSERT_EQ(granted.exit_code, 0) << granted.out << granted.err;
  json out;
  EXPECT_EQ(post(*api2, "/api/v1/materials/destroy",
                 {{"cms", signed_by(other, destruction_act("99-ЖА"))}}, other_token, &out),
            404)
      << out.dump();
  EXPECT_EQ(out["error"]["code"], "material_unknown");
  EXPECT_EQ(api->get("/api/v1/answers?request_id=" + request_id, token)->status, 200);
  // A plain user is not a controller at all.
  EXPECT_EQ(post(*api, "/api/v1/materials/destroy",
                 {{"cms", signed_by(officer, destruction_act("1"))}}, token, &out),
            403);
  EXPECT_EQ(out["error"]["code"], "not_staff");

  // The answer is on disk (in materials.db or its WAL) before it is destroyed.
  auto files = [] {
    std::string all;
    for (const char* f : {"aaj.db", "aaj.db-wal", "materials.db", "materials.db-wal"})
      all += slurp(inst->dir() / "data" / f);
    return all;
  };
  EXPECT_NE(files().find(data), std::string::npos);

  // 8. The body's controller destroys the material by a signed act.
  json destroyed;
  ASSERT_EQ(post(*api4, "/api/v1/materials/destroy",
                 {{"cms", signed_by(controller, destruction_act("17-ЖА"))}}, ctl_token, &destroyed),
            200)
      << destroyed.dump();
  EXPECT_EQ(destroyed["status"], "destroyed");
  EXPECT_EQ(destroyed["destroyed"].size(), 3u);  // R01, and R01 + R11 of the second request
  EXPECT_EQ(destroyed["checkpointed"], true);
  EXPECT_NE(destroyed["destroyed_at"].get<std::string>().find("+05:00"), std::string::npos);
  // Gone: exports and reads answer 410 with when and by which act.
  json gone;
  EXPECT_EQ(
      post(*api, "/api/v1/exports", {{"request_id", request_id}, {"format", "pdf"}}, token, &gone),
      410);
  EXPECT_EQ(gone["error"]["code"], "answer_destroyed");
  EXPECT_EQ(gone["destroyed"]["act"]["number"], "17-ЖА");
  EXPECT_EQ(gone["destroyed"]["by"], controller["iin"]);
  EXPECT_EQ(gone["destroyed"]["at"], destroyed["destroyed_at"]);
  EXPECT_EQ(api->get("/api/v1/answers?request_id=" + multi_id, token)->status, 410);
  // Again: nothing new is destroyed, and it says so.
  json again;
  ASSERT_EQ(post(*api4, "/api/v1/materials/destroy",
                 {{"cms", signed_by(controller, destruction_act("17-ЖА"))}}, ctl_token, &again),
            200);
  EXPECT_EQ(again["status"], "already_destroyed");
  EXPECT_TRUE(again["destroyed"].empty());
  EXPECT_EQ(again["already_destroyed"].size(), 3u);

  // 9. The event log: the answer's hash, then exported → confirmed destroyed → material destroyed.
  inst->stop();
  auto v = run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  std::ifstream in(inst->dir() / "data/journal/journal.log");
  std::string line;
  std::vector<std::string> order;
  json destruction_record;
  std::string logged_sha;
  while (std::getline(in, line)) {
    json rec = json::parse(line);
    const std::string type = rec["type"];
    const json& body = rec["body"];
    if (type == "data_request" && body.value("request_id", "") == request_id)
      logged_sha = body.value("answer_sha256", "");
    if (type == "answer_exported" || type == "export_destroyed" || type == "material_destroyed")
      order.push_back(type);
    if (type == "material_destroyed" && destruction_record.is_null()) destruction_record = body;
  }
  EXPECT_EQ(logged_sha, data_sha);  // the stored bytes are the ones the log vouches for
  std::vector<std::string> expected = {
      "answer_exported",  "answer_exported",  "answer_exported",    "export_destroyed",
      "export_destroyed", "export_destroyed", "material_destroyed", "material_destroyed"};
  EXPECT_EQ(order, expected);
  ASSERT_FALSE(destruction_record.is_null());
  EXPECT_EQ(destruction_record["act"]["number"], "17-ЖА");
  EXPECT_EQ(destruction_record["controller"], controller["iin"]);
  std::set<std::string> ids;
  for (const auto& a : destruction_record["answers"]) ids.insert(a["request_id"]);
  EXPECT_EQ(ids, (std::set<std::string>{request_id, multi_id}));
  // The refused attempts are logged too.
  std::string log = slurp(inst->dir() / "data/journal/journal.log");
  EXPECT_NE(log.find("\"answer_access_refused\""), std::string::npos);
  EXPECT_NE(log.find("\"material_unknown\""), std::string::npos);
  EXPECT_NE(log.find("\"answer_read\""), std::string::npos);

  // 10. The data is not in the database files any more.
  std::string db = files();
  ASSERT_GT(slurp(inst->dir() / "data/materials.db").size(), 0u);
  EXPECT_EQ(db.find(data), std::string::npos);
  for (const auto& [k, val] : json::parse(data).items()) {
    if (val.is_string() && val.get<std::string>().size() >= 12) {
      EXPECT_EQ(db.find(val.get<std::string>()), std::string::npos) << k;
    }
  }
}

// Fail safe for evidence: while the database cannot take the answers (the test holds its write
// lock) the archive's queue fills, and an answer that cannot be kept is withheld — logged, not
// released. When the database is free again everything accepted is stored.
TEST(MaterialsWithheld, AnAnswerThatCannotBeKeptIsNotReleased) {
  ASSERT_TRUE(aaj::time::load_astana_zone().ok());
  Installation box("[archive]\nmax_queue = 2\n");
  box.start();
  const json& officer = box.user("investigator_mia");
  auto api = box.api();
  std::string token = box.enter(*api, officer);
  auto ask = [&](const json& doc) {
    auto r = aaj::client::send_request(*api, token, *box.sign_key(officer), doc);
    if (!r) throw std::runtime_error("transport");
    return *r;
  };
  json two = aaj::client::make_document("R01", kGround, {{"iin", "860417300015"}}, "Тергеу");
  two.erase("resource");
  two["resources"] = {"R01", "R11"};

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((box.dir() / "data/materials.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  // Two answers fill the queue: the writer cannot store them while the lock is held.
  auto first = ask(two);
  EXPECT_EQ(first.status, 200) << first.raw;
  auto withheld =
      ask(aaj::client::make_document("R01", kGround, {{"iin", "860417300015"}}, "Тергеу"));
  EXPECT_EQ(withheld.status, 503) << withheld.raw;
  EXPECT_EQ(withheld.body["error"]["code"], "archive_unavailable");
  EXPECT_FALSE(withheld.body.contains("data"));
  const std::string withheld_id = withheld.body.value("request_id", "");
  ASSERT_FALSE(withheld_id.empty());
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  // Free again: the queued answers are stored (reading one flushes the archive), new ones pass.
  auto read =
      api->get("/api/v1/answers?request_id=" + first.body["request_id"].get<std::string>(), token);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status, 200) << read->raw;
  EXPECT_EQ(read->body["results"].size(), 2u);
  auto after = ask(aaj::client::make_document("R01", kGround, {{"iin", "860417300015"}}, "Тергеу"));
  EXPECT_EQ(after.status, 200) << after.raw;
  // The withheld answer was never kept, and the log says why it was not released.
  EXPECT_EQ(api->get("/api/v1/answers?request_id=" + withheld_id, token)->status, 404);
  box.stop();
  std::ifstream in(box.dir() / "data/journal/journal.log");
  std::string line;
  bool answered = false, then_withheld = false;
  while (std::getline(in, line)) {
    json rec = json::parse(line);
    if (rec["body"].value("request_id", "") != withheld_id) continue;
    if (rec["type"] == "data_request") answered = rec["body"]["outcome"] == "answered";
    if (rec["type"] == "answer_withheld") then_withheld = answered;
  }
  EXPECT_TRUE(then_withheld);
  EXPECT_EQ(run_aaj({"log", "verify", "--config", box.config().string()}).exit_code, 0);
}

}  // namespace
