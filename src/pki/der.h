// A small, strict DER reader for the CMS fast path (cms_fast.cpp). It only accepts what DER
// allows and what the fast path needs: low-tag-number tags (one byte), definite lengths in
// minimal form, no content past the end of the enclosing element. Anything else is reported as
// a failure so that the caller falls back to OpenSSL's full (BER-tolerant) decoder. Nothing is
// copied: every view points into the caller's buffer, which must outlive them.
// Pure functions and value types; thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aaj::pki::der {

// Universal and context-specific tags used by CMS (the whole identifier octet).
inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kOid = 0x06;
inline constexpr uint8_t kUtf8String = 0x0c;
inline constexpr uint8_t kPrintableString = 0x13;
inline constexpr uint8_t kIa5String = 0x16;
inline constexpr uint8_t kUtcTime = 0x17;
inline constexpr uint8_t kGeneralizedTime = 0x18;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kSet = 0x31;
inline constexpr uint8_t kContext0 = 0xa0;      // [0] constructed
inline constexpr uint8_t kContext1 = 0xa1;      // [1] constructed
inline constexpr uint8_t kContext3 = 0xa3;      // [3] constructed
inline constexpr uint8_t kContext0Prim = 0x80;  // [0] primitive

inline constexpr bool is_constructed(uint8_t tag) {
  return (tag & 0x20) != 0;
}

// One element: `tag`, `all` = identifier + length + contents, `value` = contents.
struct Tlv {
  uint8_t tag = 0;
  std::string_view all;
  std::string_view value;
};

// Sequential reader over the contents of one constructed element (or a whole buffer).
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool empty() const { return pos_ >= data_.size(); }
  // The bytes not read yet.
  std::string_view rest() const { return data_.substr(pos_); }

  // Reads the next element. Returns false, without moving, when the bytes there are not strict
  // DER (high tag number, indefinite or non-minimal length, length past the end) or when the
  // reader is empty.
  bool next(Tlv& out);

  // next(), and the element must have tag `tag`. Returns false, without moving, otherwise.
  bool next(uint8_t tag, Tlv& out);

  // True (and reads the element) when the next element exists and has tag `tag`; false,
  // without moving, when it has another tag or the reader is empty. `ok` becomes false when the
  // bytes there are not strict DER.
  bool next_if(uint8_t tag, Tlv& out, bool& ok);

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Parses exactly one element that spans the whole of `data`. False otherwise.
bool parse_single(std::string_view data, Tlv& out);

// The content octets of an OBJECT IDENTIFIER are acceptable to OpenSSL's c2i_ASN1_OBJECT:
// non-empty, the last octet ends a sub-identifier, no sub-identifier starts with 0x80.
bool valid_oid(std::string_view content);

// The content octets of an INTEGER are non-empty and minimal (no redundant leading 0x00/0xff),
// as DER and OpenSSL 3 require.
bool minimal_integer(std::string_view content);

// The content of a UTCTime is exactly "YYMMDDHHMMSSZ", of a GeneralizedTime exactly
// "YYYYMMDDHHMMSSZ" (digits only): the forms RFC 5280 mandates, which every OpenSSL version
// decodes and compares the same way.
bool strict_time(uint8_t tag, std::string_view content);

}  // namespace aaj::pki::der
