// Flame graphs: stacks weighted by time, merged into a tree and drawn as one interactive SVG
// (click a frame to zoom, search by regular expression, a frame's time and share on hover).
// The tools turn their stacks into FlameStacks; this draws them and knows nothing of a tool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tk {

// What a frame is, which decides its colour.
enum class FlameKind : uint8_t {
    task,    // the process or thread at the root of its stacks
    user,    // a user-space function
    kernel,  // a kernel function
    lock,    // what was waited for: a lock, a condition, a join ...
    waker,   // a frame of the stack that ended the wait
};

struct FlameFrame {
    std::string name;
    FlameKind kind = FlameKind::user;
    bool operator==(const FlameFrame&) const = default;
};

struct FlameStack {
    std::vector<FlameFrame> frames;  // outermost first
    uint64_t ns = 0;                 // the time the stack stands for
};

struct FlameGraphText {
    std::string title;     // "lockwait-trace: blocked time by waiter stack"
    std::string subtitle;  // the command, the run (cut to 60 characters)
    std::string measure;   // what the width is: "blocked", "off-CPU"
};

// The SVG of STACKS: identical frames with identical parents are merged, siblings sorted by
// name, width in proportion to time. Frames too narrow to see (under 1/20,000 of the total)
// are left out and counted in the subtitle. Opening it with "#search=REGEX" or "#zoom=NAME"
// applies a search or zooms to the widest frame of that name (how the tests drive it).
std::string flame_graph_svg(const std::vector<FlameStack>& stacks, const FlameGraphText& text);

// The stacks in folded form ("outer;...;inner NS" per line, ';' in a name made ':'), which
// flamegraph.pl, inferno and speedscope read.
std::string folded_text(const std::vector<FlameStack>& stacks);

}  // namespace tk
