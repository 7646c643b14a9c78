#include "text.h"

#include <cstdarg>
#include <cstdio>

namespace tk {

std::string strprintf(const char* format, ...) {
    char small[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (n < 0)
        return "";
    if (size_t(n) < sizeof small)
        return std::string(small, size_t(n));
    std::string big(size_t(n) + 1, '\0');
    va_start(args, format);
    vsnprintf(big.data(), big.size(), format, args);
    va_end(args);
    big.resize(size_t(n));
    return big;
}

std::string hex(uint64_t value) {
    // By hand rather than snprintf: the JSON of a deep stack formats 200,000 of these.
    static const char digits[] = "0123456789abcdef";
    char buf[18];
    char* p = buf + sizeof buf;
    do {
        *--p = digits[value & 15];
        value >>= 4;
    } while (value);
    *--p = 'x';
    *--p = '0';
    return std::string(p, size_t(buf + sizeof buf - p));
}

std::string with_commas(uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); i++) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

std::string base_name(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string xml_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace tk
