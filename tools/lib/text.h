// Small text helpers shared by the report writers.
#pragma once

#include <string>

namespace tk {

// printf into a std::string, of any length; the format is checked by the compiler.
std::string strprintf(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace tk
