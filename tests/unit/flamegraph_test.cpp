// The flame graph writer: merging, widths, what is left out, escaping, the folded form.
// (The browser test loads the SVG the tools write in headless Chromium.)
#include <regex>

#include <gtest/gtest.h>

#include "flamegraph.h"

using tk::FlameFrame;
using tk::FlameKind;
using tk::FlameStack;

namespace {

FlameStack stack(std::initializer_list<const char*> names, uint64_t ns,
                 FlameKind kind = FlameKind::user) {
    FlameStack s;
    s.ns = ns;
    bool first = true;
    for (const char* n : names) {
        s.frames.push_back({n, first ? FlameKind::task : kind});
        first = false;
    }
    return s;
}

// The frame elements of SVG: name -> (start, value, depth), for names drawn once.
struct Drawn {
    uint64_t start, value;
    int depth;
    std::string kind;
};
std::multimap<std::string, Drawn> frames_of(const std::string& svg) {
    std::multimap<std::string, Drawn> out;
    std::regex g(
        R"re(<g class="f" data-n="([^"]*)" data-k="(\w+)" data-s="(\d+)" data-v="(\d+)" data-d="(\d+)">)re");
    for (std::sregex_iterator it(svg.begin(), svg.end(), g), end; it != end; ++it) {
        const auto& m = *it;
        out.insert({m[1], Drawn{std::stoull(m[3]), std::stoull(m[4]), std::stoi(m[5]), m[2]}});
    }
    return out;
}

}  // namespace

TEST(FlameGraph, IdenticalFramesMergeAndWidthsAddUp) {
    std::vector<FlameStack> stacks = {stack({"app", "main", "work", "lock_a"}, 300),
                                      stack({"app", "main", "work", "lock_b"}, 100),
                                      stack({"app", "main", "idle"}, 600)};
    auto svg = tk::flame_graph_svg(stacks, {"title", "", "blocked"});
    auto f = frames_of(svg);
    ASSERT_EQ(f.count("all"), 1u);
    EXPECT_EQ(f.find("all")->second.value, 1000u);
    ASSERT_EQ(f.count("main"), 1u);
    EXPECT_EQ(f.find("main")->second.value, 1000u);
    EXPECT_EQ(f.find("main")->second.depth, 2);
    EXPECT_EQ(f.find("work")->second.value, 400u);
    // siblings sorted by name: idle starts where main does, work after it
    EXPECT_EQ(f.find("idle")->second.start, 0u);
    EXPECT_EQ(f.find("work")->second.start, 600u);
    EXPECT_EQ(f.find("lock_b")->second.start, 900u);
    EXPECT_EQ(f.find("app")->second.kind, "task");
    EXPECT_EQ(f.find("work")->second.kind, "user");
    EXPECT_NE(svg.find("1.00 us blocked in 3 stacks"), std::string::npos) << svg;
    EXPECT_NE(svg.find("data-total=\"1000\""), std::string::npos);
}

TEST(FlameGraph, TheSameNameOfAnotherKindIsAnotherFrame) {
    FlameStack a = stack({"app", "wake"}, 10), b = stack({"app", "wake"}, 20, FlameKind::waker);
    auto f = frames_of(tk::flame_graph_svg({a, b}, {"t", "", "blocked"}));
    EXPECT_EQ(f.count("wake"), 2u);
}

TEST(FlameGraph, FramesTooNarrowToSeeAreLeftOutAndCounted) {
    std::vector<FlameStack> stacks = {stack({"app", "wide"}, 1'000'000),
                                      stack({"app", "narrow", "deeper"}, 10)};
    auto svg = tk::flame_graph_svg(stacks, {"t", "", "off-CPU"});
    auto f = frames_of(svg);
    EXPECT_EQ(f.count("wide"), 1u);
    EXPECT_EQ(f.count("narrow"), 0u);
    EXPECT_EQ(f.count("deeper"), 0u);  // not drawn below a frame that is left out
    EXPECT_NE(svg.find("1 frames under 1/20000 of the width left out"), std::string::npos) << svg;
}

TEST(FlameGraph, NamesAreEscaped) {
    auto svg =
        tk::flame_graph_svg({stack({"a&b", "std::vector<int>::at(\"x\")"}, 5)}, {"<t>", "", "ns"});
    EXPECT_NE(svg.find("data-n=\"std::vector&lt;int&gt;::at(&quot;x&quot;)\""), std::string::npos)
        << svg;
    EXPECT_NE(svg.find("data-n=\"a&amp;b\""), std::string::npos);
    EXPECT_EQ(svg.find("<t>"), std::string::npos);
    EXPECT_EQ(svg.find("vector<int>"), std::string::npos);
}

TEST(FlameGraph, NoStacksIsAnEmptyGraphNotAnError) {
    auto svg = tk::flame_graph_svg({}, {"t", "", "blocked"});
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    EXPECT_TRUE(frames_of(svg).empty());
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(FlameGraph, FoldedTextMergesSortsAndReplacesSemicolons) {
    std::vector<FlameStack> stacks = {stack({"b", "x;y"}, 2), stack({"a", "f"}, 1),
                                      stack({"b", "x;y"}, 3)};
    EXPECT_EQ(tk::folded_text(stacks), "a;f 1\nb;x:y 5\n");
}
