// JSON documents as every tool writes them.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace tk {

// The text of J, indented by INDENT spaces (-1: on one line), without a final newline.
// Names from the system are bytes, not always UTF-8 (a thread's comm, a path, a symbol, a
// command line): a byte that is not UTF-8 becomes U+FFFD instead of ending the run.
std::string json_text(const nlohmann::json& j, int indent = 2);

}  // namespace tk
