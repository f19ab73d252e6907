// A small PDF writer for exported answers (R-USE-2), on libharu: UTF-8 text (Kazakh, Russian,
// English) in an embedded TrueType font (DejaVu Sans by default), A4 pages as many as the text
// needs, every page with a header line, a footer line with "N / M", and a watermark repeated
// diagonally in light grey behind the text, so no page of a printed or shared copy comes without
// the name of the person it was given to. Page contents are left uncompressed (the embedded font
// is compressed).
// Pure computation plus reading the font file; thread-safe (each call has its own document).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"

namespace aaj::app::pdf {

// One line of body text; indent in levels (nested objects are indented one level per depth).
struct Line {
  std::string text;
  int indent = 0;
  bool bold = false;  // drawn larger, for headings
};

struct Document {
  std::string title;   // the PDF's Info title (ASCII is safest for viewers' title bars)
  std::string header;  // top line of every page
  // Bottom line of every page; " · N / M" is appended. Exports put the watermark's text here
  // too: the diagonal copies are for the eye, this one is what text extraction reads.
  std::string footer;
  std::string watermark;  // repeated diagonally on every page
  std::vector<Line> lines;
};

struct Options {
  std::filesystem::path font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  float font_size = 10;
};

// The PDF's bytes. Lines too wide for the page are wrapped (at spaces where possible).
// Errors: "export_unavailable" (font missing or unreadable, libharu failure: detail says which).
Result<std::string> render(const Document& doc, const Options& options = {});

// Readable lines for a JSON value: "key: value" for scalars, "key:" and the members one level
// deeper for objects, "key:" and "– item" lines (or nested blocks) for arrays; strings unquoted.
// Members keep their order (ordered_json: the source's order, not sorted).
std::vector<Line> json_lines(const nlohmann::ordered_json& value, int indent = 0);

}  // namespace aaj::app::pdf
