// The PDF writer of exports (R-USE-2): a well-formed PDF, Kazakh and Russian text in an embedded
// font, as many pages as the text needs, and the watermark on every page.
#include "app/pdf.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

namespace fs = std::filesystem;
using aaj::app::pdf::Document;
using aaj::app::pdf::Line;

namespace {

const char* kMark = "ЕСЕНОВ ТИМУР · ЖСН/ИИН/IIN 800707300123 · экспорт 5f0c";

Document sample(int lines) {
  Document d;
  d.title = "aaj export test";
  d.header = "ҚАО ААЖ · header line";
  d.footer = kMark;  // as exports do: the watermark's text, horizontally
  d.watermark = kMark;
  d.lines.push_back({"Сұрау нәтижесінің көшірмесі / Копия результата запроса", 0, true});
  for (int i = 0; i < lines; ++i)
    d.lines.push_back(
        {"жол " + std::to_string(i) + ": Қазақстан Республикасы, строка " + std::to_string(i),
         i % 3});
  return d;
}

// Pages: "/Type /Page" objects (not "/Type /Pages"); libharu writes the page dictionaries
// uncompressed.
int page_count(const std::string& pdf) {
  static const std::regex page(R"(/Type\s*/Page[^s])");
  return static_cast<int>(
      std::distance(std::sregex_iterator(pdf.begin(), pdf.end(), page), std::sregex_iterator()));
}

bool have_pdftotext() {
  return std::system("command -v pdftotext >/dev/null 2>&1") == 0;
}

// pdftotext of one page (1-based).
std::string page_text(const fs::path& file, int page) {
  std::string cmd = "pdftotext -enc UTF-8 -f " + std::to_string(page) + " -l " +
                    std::to_string(page) + " '" + file.string() + "' - 2>/dev/null";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string squeeze(std::string s) {  // pdftotext may break the diagonal line anywhere
  std::string out;
  for (char c : s)
    if (c != '\n' && c != ' ' && c != '\f') out += c;
  return out;
}

TEST(Pdf, IsAWellFormedMultiPageDocument) {
  auto pdf = aaj::app::pdf::render(sample(150));
  ASSERT_TRUE(pdf.ok()) << pdf.error().detail;
  EXPECT_EQ(pdf->compare(0, 5, "%PDF-"), 0);
  EXPECT_NE(pdf->find("%%EOF", pdf->size() - 16), std::string::npos);
  EXPECT_GE(page_count(*pdf), 3);  // 150 lines do not fit on two A4 pages
  // The font is embedded (TrueType program), so Cyrillic shows on any viewer.
  EXPECT_NE(pdf->find("/FontFile2"), std::string::npos);
  EXPECT_NE(pdf->find("DejaVuSans"), std::string::npos);
  auto small = aaj::app::pdf::render(sample(3));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(page_count(*small), 1);
}

// Content streams (uncompressed) that draw text along the page's diagonal: the rotated text
// matrix "cos sin -sin cos x y Tm".
int diagonal_streams(const std::string& pdf) {
  int n = 0;
  for (size_t p = pdf.find("stream\n"); p != std::string::npos; p = pdf.find("stream\n", p + 1)) {
    size_t end = pdf.find("endstream", p);
    if (end == std::string::npos) break;
    std::string body = pdf.substr(p, end - p);
    if (body.find("0.57733 0.81651 -0.81651 0.57733") != std::string::npos) ++n;
    p = end;
  }
  return n;
}

TEST(Pdf, EveryPageIsDrawnWithTheDiagonalWatermark) {
  auto pdf = aaj::app::pdf::render(sample(150));
  ASSERT_TRUE(pdf.ok());
  EXPECT_EQ(diagonal_streams(*pdf), page_count(*pdf));
  Document none = sample(150);
  none.watermark.clear();
  auto bare = aaj::app::pdf::render(none);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(diagonal_streams(*bare), 0);
}

TEST(Pdf, TextAndWatermarkAreOnEveryPage) {
  if (!have_pdftotext()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  auto pdf = aaj::app::pdf::render(sample(150));
  ASSERT_TRUE(pdf.ok());
  char tmpl[] = "/tmp/aaj-pdf-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  fs::path file = dir / "export.pdf";
  std::ofstream(file, std::ios::binary) << *pdf;
  int pages = page_count(*pdf);
  ASSERT_GE(pages, 3);
  const std::string mark = squeeze(kMark);
  for (int p = 1; p <= pages; ++p) {
    std::string text = page_text(file, p);
    ASSERT_FALSE(text.empty()) << "page " << p;
    std::string flat = squeeze(text);
    EXPECT_NE(flat.find(mark), std::string::npos) << "no watermark on page " << p;
    EXPECT_NE(text.find("ҚАО ААЖ · header line"), std::string::npos) << p;
    EXPECT_NE(text.find(std::to_string(p) + " / " + std::to_string(pages)), std::string::npos) << p;
  }
  std::string first = page_text(file, 1);
  EXPECT_NE(first.find("Копия результата запроса"), std::string::npos);
  EXPECT_NE(first.find("Қазақстан Республикасы"), std::string::npos);
  EXPECT_NE(page_text(file, pages).find("строка 149"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Pdf, LongLinesAreWrappedNotCut) {
  if (!have_pdftotext()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  Document d = sample(0);
  std::string long_line;
  for (int i = 0; i < 60; ++i) long_line += "сөз" + std::to_string(i) + " ";
  long_line += "СОҢЫ";
  d.lines.push_back({long_line, 1});
  auto pdf = aaj::app::pdf::render(d);
  ASSERT_TRUE(pdf.ok());
  char tmpl[] = "/tmp/aaj-pdf-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::ofstream(dir / "w.pdf", std::ios::binary) << *pdf;
  std::string text = page_text(dir / "w.pdf", 1);
  EXPECT_NE(text.find("сөз0 "), std::string::npos);
  EXPECT_NE(text.find("СОҢЫ"), std::string::npos);  // the end of the line is on the page
  fs::remove_all(dir);
}

// Continuation lines are drawn half an indent to the right: they are wrapped narrower, so that
// no word crosses the right margin (A4 595.28 pt wide, margins 50 pt).
TEST(Pdf, WrappedLinesStayInsideTheRightMargin) {
  if (!have_pdftotext()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  Document d;
  d.title = "margins";
  // No spaces: the line is cut where the width is full, the tightest case.
  std::string long_line;
  for (int i = 0; i < 150; ++i) long_line += "ab";
  for (int indent = 0; indent < 4; ++indent) d.lines.push_back({long_line, indent});
  auto pdf = aaj::app::pdf::render(d);
  ASSERT_TRUE(pdf.ok());
  char tmpl[] = "/tmp/aaj-pdf-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::ofstream(dir / "m.pdf", std::ios::binary) << *pdf;
  std::string cmd = "pdftotext -bbox -f 1 -l 1 '" + (dir / "m.pdf").string() + "' - 2>/dev/null";
  std::string html;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) html.append(buf, n);
  pclose(p);
  static const std::regex word(
      R"re(<word xMin="([0-9.]+)" yMin="[0-9.]+" xMax="([0-9.]+)"[^>]*>ab)re");
  int words = 0;
  double widest = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), word); it != std::sregex_iterator();
       ++it) {
    ++words;
    widest = std::max(widest, std::stod((*it)[2]));
  }
  EXPECT_GE(words, 8);  // every line wrapped at least once
  EXPECT_LE(widest, 595.28 - 50 + 0.5) << "a word crosses the right margin";
  fs::remove_all(dir);
}

TEST(Pdf, MissingFontIsAClearError) {
  aaj::app::pdf::Options o;
  o.font = "/nonexistent/font.ttf";
  auto pdf = aaj::app::pdf::render(sample(1), o);
  ASSERT_FALSE(pdf.ok());
  EXPECT_EQ(pdf.error().code, "export_unavailable");
}

TEST(Pdf, JsonBecomesIndentedKeyValueLines) {
  auto data = nlohmann::ordered_json::parse(
      R"({"iin":"860417300015","full_name":"ӘБДІРАХМАНОВ НҰРСҰЛТАН",
          "address":{"city":"Астана","street":"Мәңгілік Ел"},
          "vehicles":[{"plate":"123ABC01"},"x"],"count":2,"active":true,"none":null,"empty":{}})");
  auto lines = aaj::app::pdf::json_lines(data);
  std::vector<std::pair<std::string, int>> got;
  for (const auto& l : lines) got.emplace_back(l.text, l.indent);
  std::vector<std::pair<std::string, int>> want = {{"iin: 860417300015", 0},
                                                   {"full_name: ӘБДІРАХМАНОВ НҰРСҰЛТАН", 0},
                                                   {"address:", 0},
                                                   {"city: Астана", 1},
                                                   {"street: Мәңгілік Ел", 1},
                                                   {"vehicles:", 0},
                                                   {"– 1:", 1},
                                                   {"plate: 123ABC01", 2},
                                                   {"– x", 1},
                                                   {"count: 2", 0},
                                                   {"active: true", 0},
                                                   {"none: —", 0},
                                                   {"empty: —", 0}};
  EXPECT_EQ(got, want);
}

}  // namespace
