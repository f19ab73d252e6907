#include "app/pdf.h"

#include <hpdf.h>

#include <cmath>
#include <memory>
#include <system_error>
#include <unordered_map>

namespace aaj::app::pdf {
namespace {

constexpr float kPageWidth = 595.276f;  // A4 in points
constexpr float kPageHeight = 841.89f;
constexpr float kMargin = 50;
constexpr float kIndent = 14;           // per level
constexpr float kSmall = 7.5f;          // header and footer
constexpr float kWatermarkSize = 13;    // the diagonal lines
constexpr float kWatermarkGray = 0.8f;  // light grey (0 black, 1 white)
constexpr float kWatermarkGap = 85;     // between the diagonal lines

struct ErrorState {
  HPDF_STATUS error = 0, detail = 0;
};

void on_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void* user_data) {
  auto* st = static_cast<ErrorState*>(user_data);
  if (st->error == 0) {
    st->error = error_no;
    st->detail = detail_no;
  }
}

struct DocFree {
  void operator()(HPDF_Doc d) const { HPDF_Free(d); }
};

// Length in bytes of the UTF-8 sequence starting with byte c (1 for stray bytes).
size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xe) return 3;
  if ((c >> 3) == 0x1e) return 4;
  return 1;
}

// Text widths by code point, measured once per document and font size 1.
class Measure {
 public:
  explicit Measure(HPDF_Font font) : font_(font) {}
  float width(std::string_view text, float size) {
    float w = 0;
    for (size_t i = 0; i < text.size();) {
      size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
      w += glyph(text.substr(i, n));
      i += n;
    }
    return w * size;
  }

 private:
  float glyph(std::string_view g) {
    auto it = cache_.find(std::string(g));
    if (it != cache_.end()) return it->second;
    std::string s(g);
    HPDF_TextWidth tw =
        HPDF_Font_TextWidth(font_, reinterpret_cast<const HPDF_BYTE*>(s.data()), s.size());
    float w = static_cast<float>(tw.width) / 1000.0f;
    cache_.emplace(std::move(s), w);
    return w;
  }
  HPDF_Font font_;
  std::unordered_map<std::string, float> cache_;
};

// Splits text into pieces no wider than `width`, breaking after spaces where possible.
// Lines of at most `width` points; the lines after the first at most `rest_width` (continuation
// lines are drawn further right).
std::vector<std::string> wrap(Measure& m, const std::string& text, float size, float width,
                              float rest_width) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    const float limit = out.empty() ? width : rest_width;
    float w = 0;
    size_t i = start, last_space = std::string::npos;
    while (i < text.size()) {
      size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
      float gw = m.width(std::string_view(text).substr(i, n), size);
      if (w + gw > limit && i > start) break;
      w += gw;
      if (text[i] == ' ') last_space = i;
      i += n;
    }
    size_t end = i;
    if (i < text.size() && last_space != std::string::npos && last_space > start)
      end = last_space + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  if (out.empty()) out.emplace_back();
  return out;
}

struct Placed {
  std::string text;
  float x;
  float size;
};

std::string scalar_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "—";
  return v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void append_lines(const nlohmann::ordered_json& v, int indent, std::vector<Line>& out) {
  auto block = [&](const std::string& label, const nlohmann::ordered_json& child) {
    if (child.is_object() || child.is_array()) {
      if (child.empty()) {
        out.push_back({label + (label.empty() ? "—" : " —"), indent});
      } else {
        out.push_back({label, indent});
        append_lines(child, indent + 1, out);
      }
    } else {
      out.push_back({label + (label.empty() ? "" : " ") + scalar_text(child), indent});
    }
  };
  if (v.is_object()) {
    for (const auto& [k, child] : v.items()) block(k + ":", child);
  } else if (v.is_array()) {
    size_t n = 0;
    for (const auto& child : v) {
      ++n;
      if (child.is_object() || child.is_array())
        block("– " + std::to_string(n) + ":", child);
      else
        out.push_back({"– " + scalar_text(child), indent});
    }
  } else {
    out.push_back({scalar_text(v), indent});
  }
}

}  // namespace

std::vector<Line> json_lines(const nlohmann::ordered_json& value, int indent) {
  std::vector<Line> out;
  append_lines(value, indent, out);
  return out;
}

Result<std::string> render(const Document& doc, const Options& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.font, ec))
    return Error{"export_unavailable", "PDF font not found: " + options.font.string()};
  ErrorState err;
  std::unique_ptr<std::remove_pointer_t<HPDF_Doc>, DocFree> pdf(HPDF_New(on_error, &err));
  if (!pdf) return Error{"export_unavailable", "libharu: cannot create a document"};
  HPDF_Doc d = pdf.get();
  auto failed = [&](const char* where) -> std::optional<Error> {
    if (err.error == 0) return std::nullopt;
    char buf[96];
    snprintf(buf, sizeof buf, "libharu error 0x%04X/%u at %s", static_cast<unsigned>(err.error),
             static_cast<unsigned>(err.detail), where);
    return Error{"export_unavailable", buf};
  };
  // The font is compressed; page contents are not (a few KB a page), so the drawing of every
  // page can be inspected as it is (tests look for the diagonal watermark on each page).
  HPDF_SetCompressionMode(d, HPDF_COMP_IMAGE | HPDF_COMP_METADATA);
  HPDF_UseUTFEncodings(d);
  HPDF_SetCurrentEncoder(d, "UTF-8");
  const char* name = HPDF_LoadTTFontFromFile(d, options.font.c_str(), HPDF_TRUE);
  HPDF_Font font = name ? HPDF_GetFont(d, name, "UTF-8") : nullptr;
  if (auto e = failed("font")) return *e;
  if (!font) return Error{"export_unavailable", "libharu: cannot load " + options.font.string()};
  if (!doc.title.empty()) HPDF_SetInfoAttr(d, HPDF_INFO_TITLE, doc.title.c_str());
  HPDF_SetInfoAttr(d, HPDF_INFO_CREATOR, "aaj");

  Measure m(font);
  const float size = options.font_size, leading = size * 1.45f;
  const float text_width = kPageWidth - 2 * kMargin;
  std::vector<std::string> header = wrap(m, doc.header, kSmall, text_width, text_width);
  const float body_top = kPageHeight - kMargin - static_cast<float>(header.size()) * kSmall * 1.4f;
  // The footer has room for its text plus " · N / M".
  std::vector<std::string> footer = wrap(m, doc.footer, kSmall, text_width - 60, text_width - 60);
  const float body_bottom = kMargin + static_cast<float>(footer.size()) * kSmall * 1.4f + 6;

  // First pass: the body's lines placed on pages.
  std::vector<std::vector<std::pair<Placed, float>>> pages(1);  // (text, y)
  float y = body_top - leading;
  for (const Line& line : doc.lines) {
    float line_size = line.bold ? size * 1.25f : size;
    float x = kMargin + kIndent * static_cast<float>(std::max(0, line.indent));
    float width = kPageWidth - kMargin - x;
    if (width < 100) {  // absurdly deep nesting: keep a readable column
      x = kPageWidth - kMargin - 100;
      width = 100;
    }
    bool first = true;
    for (auto& piece : wrap(m, line.text, line_size, width, width - kIndent / 2)) {
      if (y < body_bottom) {
        pages.emplace_back();
        y = body_top - leading;
      }
      pages.back().push_back({{std::move(piece), first ? x : x + kIndent / 2, line_size}, y});
      y -= line.bold ? leading * 1.3f : leading;
      first = false;
    }
  }

  // Second pass: draw. The watermark goes first so the text stays readable over it.
  const float diagonal = std::atan2(kPageHeight, kPageWidth);
  const float c = std::cos(diagonal), s = std::sin(diagonal);
  const std::string mark = doc.watermark + "   ·   ";
  const float mark_width = m.width(mark, kWatermarkSize);
  const size_t total = pages.size();
  for (size_t p = 0; p < total; ++p) {
    HPDF_Page page = HPDF_AddPage(d);
    HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
    if (!doc.watermark.empty()) {
      HPDF_Page_SetGrayFill(page, kWatermarkGray);
      HPDF_Page_BeginText(page);
      HPDF_Page_SetFontAndSize(page, font, kWatermarkSize);
      // Parallel lines along the page's diagonal, `kWatermarkGap` apart, covering the page; each
      // line is the mark repeated, lines shifted by a third of a mark in turn.
      const float span = std::hypot(kPageWidth, kPageHeight);
      const float mw = std::max(mark_width, 1.0f);
      const int repeats = static_cast<int>(std::ceil((span + mw) / mw)) + 1;
      std::string row;
      for (int i = 0; i < repeats; ++i) row += mark;
      int k = 0;
      for (float off = -span / 2; off <= span / 2; off += kWatermarkGap, ++k) {
        // The line through the page's centre moved `off` across; start before the page.
        const float cx = kPageWidth / 2 - s * off, cy = kPageHeight / 2 + c * off;
        const float back = span / 2 + mw * static_cast<float>(k % 3) / 3;
        HPDF_Page_SetTextMatrix(page, c, s, -s, c, cx - c * back, cy - s * back);
        HPDF_Page_ShowText(page, row.c_str());
      }
      HPDF_Page_EndText(page);
    }
    // Header, a rule under it; footer with the page number, a rule above it.
    HPDF_Page_SetGrayFill(page, 0.25f);
    HPDF_Page_BeginText(page);
    HPDF_Page_SetFontAndSize(page, font, kSmall);
    float hy = kPageHeight - kMargin + 8;
    for (const auto& h : header) {
      HPDF_Page_TextOut(page, kMargin, hy, h.c_str());
      hy -= kSmall * 1.4f;
    }
    float fy = kMargin - 4;
    for (size_t i = 0; i < footer.size(); ++i) {
      std::string f = footer[i];
      if (i + 1 == footer.size())
        f += "  ·  " + std::to_string(p + 1) + " / " + std::to_string(total);
      HPDF_Page_TextOut(page, kMargin,
                        fy + kSmall * 1.4f * static_cast<float>(footer.size() - 1 - i), f.c_str());
    }
    HPDF_Page_EndText(page);
    HPDF_Page_SetGrayStroke(page, 0.6f);
    HPDF_Page_SetLineWidth(page, 0.5f);
    HPDF_Page_MoveTo(page, kMargin, body_top + 2);
    HPDF_Page_LineTo(page, kPageWidth - kMargin, body_top + 2);
    HPDF_Page_MoveTo(page, kMargin, body_bottom - 4);
    HPDF_Page_LineTo(page, kPageWidth - kMargin, body_bottom - 4);
    HPDF_Page_Stroke(page);
    // The body.
    HPDF_Page_SetGrayFill(page, 0);
    HPDF_Page_BeginText(page);
    for (const auto& [placed, ly] : pages[p]) {
      HPDF_Page_SetFontAndSize(page, font, placed.size);
      HPDF_Page_TextOut(page, placed.x, ly, placed.text.c_str());
    }
    HPDF_Page_EndText(page);
    if (auto e = failed("page")) return *e;
  }

  HPDF_SaveToStream(d);
  if (auto e = failed("save")) return *e;
  std::string out(HPDF_GetStreamSize(d), '\0');
  HPDF_UINT32 len = static_cast<HPDF_UINT32>(out.size());
  HPDF_ReadFromStream(d, reinterpret_cast<HPDF_BYTE*>(out.data()), &len);
  out.resize(len);
  if (out.compare(0, 5, "%PDF-") != 0) return Error{"export_unavailable", "libharu wrote no PDF"};
  return out;
}

}  // namespace aaj::app::pdf
