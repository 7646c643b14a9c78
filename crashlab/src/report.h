// The two views of an Analysis: text for people (recursion collapsed, heuristic frames
// marked) and JSON for machines (every frame, the schema in docs/crashlab.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "analysis.h"

namespace crashlab {

struct TextOptions {
    bool registers = true;
    bool modules = true;
    bool all_threads = true;
};

std::string render_text(const Analysis& a, const TextOptions& options = {});
// Everything but the frames as a json value (threads[] carry no "frames")...
nlohmann::json render_json(const Analysis& a);
// ...and the complete document as text, frames included. The frames are written directly:
// a stack overflow has 100,000 of them, too many for a json value per frame to be cheap.
std::string render_json_text(const Analysis& a);

// Version of the JSON schema; bump when a field changes meaning or disappears.
constexpr int kJsonSchemaVersion = 2;  // 2: signature by names, bucket, exact_signature

}  // namespace crashlab
