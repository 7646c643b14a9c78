// Small text helpers shared by the report writers.
#pragma once

#include <cstdint>
#include <string>

namespace tk {

// printf into a std::string, of any length; the format is checked by the compiler.
std::string strprintf(const char* format, ...) __attribute__((format(printf, 1, 2)));

// "0x7f3a..." (lower case, no padding).
std::string hex(uint64_t value);

// 87291 -> "87,291"
std::string with_commas(uint64_t n);

// "crashlab-victim-O0" from "/path/crashlab-victim-O0"; a name without '/' is itself.
std::string base_name(const std::string& path);

// TEXT with & < > " ' written as XML entities, for SVG and XML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace tk
