#include "flamegraph.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "histogram.h"
#include "text.h"

namespace tk {
namespace {

// The drawing's geometry, in pixels. The script below reads the same numbers.
constexpr int kWidth = 1200, kMargin = 10, kFrameHeight = 16, kTop = 62, kBottom = 34;
constexpr double kPlotWidth = kWidth - 2 * kMargin;
constexpr double kCharWidth = 7;        // 11 px monospace, rounded up
constexpr uint64_t kNarrowest = 20000;  // frames under total/kNarrowest are left out

struct Node {
    FlameFrame frame;
    uint64_t ns = 0;
    std::map<std::pair<std::string, FlameKind>, size_t> children;  // sorted by name
};

// The stacks merged into one tree; node 0 is "all".
std::vector<Node> merge(const std::vector<FlameStack>& stacks) {
    std::vector<Node> nodes(1);
    nodes[0].frame = {"all", FlameKind::task};
    for (const auto& s : stacks) {
        size_t at = 0;
        nodes[0].ns += s.ns;
        for (const auto& f : s.frames) {
            auto key = std::make_pair(f.name, f.kind);
            auto it = nodes[at].children.find(key);
            size_t next;
            if (it == nodes[at].children.end()) {
                next = nodes.size();
                nodes[at].children.emplace(key, next);
                nodes.push_back(Node{f, 0, {}});
            } else {
                next = it->second;
            }
            nodes[next].ns += s.ns;
            at = next;
        }
    }
    return nodes;
}

const char* kind_name(FlameKind k) {
    switch (k) {
        case FlameKind::task:
            return "task";
        case FlameKind::user:
            return "user";
        case FlameKind::kernel:
            return "kernel";
        case FlameKind::lock:
            return "lock";
        case FlameKind::waker:
            return "waker";
    }
    return "user";
}

// A colour of the kind's family, varied by the name so that neighbours differ.
std::string colour(const FlameFrame& f) {
    uint32_t h = 2166136261u;  // FNV-1a of the name
    for (unsigned char c : f.name)
        h = (h ^ c) * 16777619u;
    double v = double(h % 1000) / 1000.0;
    int hue = 0, sat = 0, light = 0;
    switch (f.kind) {
        case FlameKind::task:
            hue = 0, sat = 0, light = 72 + int(v * 10);
            break;
        case FlameKind::user:
            hue = int(v * 50), sat = 85, light = 58 + int(v * 6);
            break;
        case FlameKind::kernel:
            hue = 190 + int(v * 25), sat = 60, light = 62 + int(v * 8);
            break;
        case FlameKind::lock:
            hue = 275 + int(v * 15), sat = 55, light = 66;
            break;
        case FlameKind::waker:
            hue = 100 + int(v * 40), sat = 50, light = 58 + int(v * 8);
            break;
    }
    return strprintf("hsl(%d,%d%%,%d%%)", hue, sat, light);
}

std::string label(const std::string& name, double width) {
    int chars = int((width - 6) / kCharWidth);
    if (chars < 3)
        return "";
    if (name.size() <= size_t(chars))
        return name;
    return name.substr(0, size_t(chars - 2)) + "..";
}

std::string percent(uint64_t part, uint64_t total) {
    return strprintf("%.2f%%", total ? 100.0 * double(part) / double(total) : 0.0);
}

struct Drawing {
    const std::vector<Node>& nodes;
    std::string measure;
    int max_depth = 0;
    size_t left_out = 0;
    std::ostringstream frames;

    int depth_of_tree(size_t at, int depth) const {
        int deepest = depth;
        for (const auto& [key, child] : nodes[at].children)
            deepest = std::max(deepest, depth_of_tree(child, depth + 1));
        return deepest;
    }

    void draw(size_t at, int depth, uint64_t start) {
        const Node& n = nodes[at];
        const uint64_t total = nodes[0].ns;
        if (n.ns * kNarrowest < total) {
            left_out++;
            return;
        }
        double x = kMargin + kPlotWidth * double(start) / double(total);
        double w = kPlotWidth * double(n.ns) / double(total);
        int y = kTop + (max_depth - depth) * kFrameHeight;
        std::string name = xml_escape(n.frame.name);
        frames << "<g class=\"f\" data-n=\"" << name << "\" data-k=\"" << kind_name(n.frame.kind)
               << "\" data-s=\"" << start << "\" data-v=\"" << n.ns << "\" data-d=\"" << depth
               << "\"><title>" << name << " (" << format_ns(double(n.ns)) << " " << measure << ", "
               << percent(n.ns, total) << ")</title><rect x=\"" << strprintf("%.2f", x) << "\" y=\""
               << y << "\" width=\"" << strprintf("%.2f", std::max(w - 1, 0.0)) << "\" height=\""
               << kFrameHeight - 1 << "\" fill=\"" << colour(n.frame) << "\"/><text x=\""
               << strprintf("%.2f", x + 3) << "\" y=\"" << y + 11 << "\">"
               << xml_escape(label(n.frame.name, w)) << "</text></g>\n";
        uint64_t child_start = start;
        for (const auto& [key, child] : n.children) {
            draw(child, depth + 1, child_start);
            child_start += nodes[child].ns;
        }
    }
};

// The page's behaviour: zoom, search, details on hover, and the URL's #search= and #zoom=.
// Sets data-ready="1" on the root element once it has run, which the browser test checks.
const char* const kScript = R"JS(
(function () {
  var svg = document.documentElement;
  var W = +svg.getAttribute('data-plot-width'), X0 = +svg.getAttribute('data-margin');
  var total = +svg.getAttribute('data-total'), measure = svg.getAttribute('data-measure');
  var frames = Array.prototype.slice.call(document.querySelectorAll('g.f'));
  var details = document.getElementById('details'), matched = document.getElementById('matched');
  var unzoomButton = document.getElementById('unzoom');
  function num(g, a) { return +g.getAttribute(a); }
  function fmt(ns) {
    if (ns < 1e3) return ns.toFixed(0) + ' ns';
    if (ns < 1e6) return (ns / 1e3).toFixed(2) + ' us';
    if (ns < 1e9) return (ns / 1e6).toFixed(2) + ' ms';
    return (ns / 1e9).toFixed(2) + ' s';
  }
  function label(name, w) {
    var chars = Math.floor((w - 6) / 7);
    if (chars < 3) return '';
    return name.length <= chars ? name : name.substring(0, chars - 2) + '..';
  }
  function place(g, x, w) {
    var r = g.querySelector('rect'), t = g.querySelector('text');
    r.setAttribute('x', x.toFixed(2));
    r.setAttribute('width', Math.max(w - 1, 0).toFixed(2));
    t.setAttribute('x', (x + 3).toFixed(2));
    t.textContent = label(g.getAttribute('data-n'), w);
  }
  function zoom(f) {
    var s = num(f, 'data-s'), v = num(f, 'data-v'), d = num(f, 'data-d'), scale = W / v;
    frames.forEach(function (g) {
      var gs = num(g, 'data-s'), gv = num(g, 'data-v'), gd = num(g, 'data-d');
      var inside = gd >= d && gs >= s && gs + gv <= s + v;
      var below = gd < d && gs <= s && gs + gv >= s + v;
      g.style.display = inside || below ? '' : 'none';
      g.classList.toggle('parent', below);
      if (inside) place(g, X0 + (gs - s) * scale, gv * scale);
      else if (below) place(g, X0, W);
    });
    svg.setAttribute('data-zoomed', f.getAttribute('data-n'));
    unzoomButton.style.opacity = 1;
  }
  function unzoom() {
    frames.forEach(function (g) {
      g.style.display = '';
      g.classList.remove('parent');
      place(g, X0 + num(g, 'data-s') * W / total, num(g, 'data-v') * W / total);
    });
    svg.removeAttribute('data-zoomed');
    unzoomButton.style.opacity = 0.3;
  }
  function search(text) {
    var re;
    try { re = new RegExp(text); } catch (e) { matched.textContent = 'not a regular expression: ' + text; return; }
    var spans = [];
    frames.forEach(function (g) {
      var hit = text !== '' && re.test(g.getAttribute('data-n'));
      g.classList.toggle('match', hit);
      if (hit) spans.push([num(g, 'data-s'), num(g, 'data-s') + num(g, 'data-v')]);
    });
    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var sum = 0, end = 0;  // the union of the matched frames' spans
    spans.forEach(function (p) {
      if (p[1] <= end) return;
      sum += p[1] - Math.max(p[0], end);
      end = p[1];
    });
    var share = total ? (100 * sum / total).toFixed(2) : '0.00';
    svg.setAttribute('data-matched', share);
    matched.textContent = text === '' ? '' : 'matched ' + share + '% (' + fmt(sum) + ')';
  }
  function ask() {
    var text = window.prompt('Search frames (regular expression)', '');
    if (text !== null) search(text);
  }
  frames.forEach(function (g) {
    g.addEventListener('click', function () { zoom(g); });
    g.addEventListener('mouseover', function () {
      var v = num(g, 'data-v');
      details.textContent = g.getAttribute('data-n') + ': ' + fmt(v) + ' ' + measure + ', ' +
        (100 * v / total).toFixed(2) + '% (' + g.getAttribute('data-k') + ')';
    });
    g.addEventListener('mouseout', function () { details.textContent = ' '; });
  });
  unzoomButton.addEventListener('click', unzoom);
  document.getElementById('search').addEventListener('click', ask);
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); ask(); }
    if (e.key === 'Escape') { unzoom(); search(''); }
  });
  var hash = decodeURIComponent(window.location.hash.substring(1));
  if (hash.indexOf('search=') === 0) search(hash.substring(7));
  if (hash.indexOf('zoom=') === 0) {
    var name = hash.substring(5), widest = null;
    frames.forEach(function (g) {
      if (g.getAttribute('data-n') === name && (!widest || num(g, 'data-v') > num(widest, 'data-v')))
        widest = g;
    });
    if (widest) zoom(widest);
  }
  svg.setAttribute('data-ready', '1');
})();
)JS";

void legend(std::ostringstream& s) {
    int x = kWidth - kMargin - 5 * 70;
    for (FlameKind k :
         {FlameKind::task, FlameKind::user, FlameKind::kernel, FlameKind::lock, FlameKind::waker}) {
        s << "<rect x=\"" << x << "\" y=\"40\" width=\"10\" height=\"10\" fill=\""
          << colour({"", k}) << "\"/><text x=\"" << x + 14 << "\" y=\"49\" class=\"small\">"
          << kind_name(k) << "</text>\n";
        x += 70;
    }
}

}  // namespace

std::string flame_graph_svg(const std::vector<FlameStack>& stacks, const FlameGraphText& text) {
    std::vector<Node> nodes = merge(stacks);
    Drawing d{nodes, xml_escape(text.measure), 0, 0, {}};
    d.max_depth = d.depth_of_tree(0, 0);
    if (nodes[0].ns)
        d.draw(0, 0, 0);
    const int height = kTop + (d.max_depth + 1) * kFrameHeight + kBottom;
    // (the legend takes the right of the subtitle's line: a long command is cut short)
    std::string subtitle = label(text.subtitle, 60 * kCharWidth + 6);
    if (!subtitle.empty())
        subtitle += "; ";
    subtitle += format_ns(double(nodes[0].ns)) + " " + text.measure + " in " +
                with_commas(stacks.size()) + " stacks";
    if (d.left_out)
        subtitle += strprintf(", %zu frames under 1/%llu of the width left out", d.left_out,
                              static_cast<unsigned long long>(kNarrowest));

    std::ostringstream s;
    s << "<?xml version=\"1.0\" standalone=\"no\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << kWidth
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << kWidth << " " << height
      << "\" data-total=\"" << nodes[0].ns << "\" data-measure=\"" << xml_escape(text.measure)
      << "\" data-plot-width=\"" << kPlotWidth << "\" data-margin=\"" << kMargin << "\">\n"
      << "<style>\n"
      << "text { font-family: monospace; font-size: 11px; fill: #000; }\n"
      << "g.f text { pointer-events: none; }\n"
      << "g.f:hover rect { stroke: #000; stroke-width: 0.5; cursor: pointer; }\n"
      << "g.match rect { fill: rgb(230,0,230); }\n"
      << "g.parent rect { opacity: 0.5; }\n"
      << ".title { font-size: 16px; font-family: sans-serif; }\n"
      << ".small { font-size: 11px; fill: #444; }\n"
      << ".button { font-size: 12px; fill: #036; cursor: pointer; }\n"
      << "</style>\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#f8f8f4\"/>\n"
      << "<text class=\"title\" x=\"" << kWidth / 2 << "\" y=\"22\" text-anchor=\"middle\">"
      << xml_escape(text.title) << "</text>\n"
      << "<text class=\"small\" x=\"" << kMargin << "\" y=\"49\">" << xml_escape(subtitle)
      << "</text>\n";
    legend(s);
    s << "<text id=\"unzoom\" class=\"button\" x=\"" << kMargin
      << "\" y=\"22\" style=\"opacity:0.3\">Reset zoom</text>\n"
      << "<text id=\"search\" class=\"button\" x=\"" << kWidth - kMargin
      << "\" y=\"22\" text-anchor=\"end\">Search (Ctrl-F)</text>\n"
      << "<text id=\"matched\" class=\"small\" x=\"" << kWidth - kMargin << "\" y=\"" << height - 10
      << "\" text-anchor=\"end\"></text>\n"
      << "<text id=\"details\" class=\"small\" x=\"" << kMargin << "\" y=\"" << height - 10
      << "\"> </text>\n"
      << d.frames.str() << "<script type=\"text/ecmascript\"><![CDATA[" << kScript
      << "]]></script>\n</svg>\n";
    return s.str();
}

std::string folded_text(const std::vector<FlameStack>& stacks) {
    std::map<std::string, uint64_t> lines;  // identical stacks are added up
    for (const auto& st : stacks) {
        std::string line;
        for (const auto& f : st.frames) {
            std::string name = f.name;
            std::replace(name.begin(), name.end(), ';', ':');
            line += (line.empty() ? "" : ";") + name;
        }
        lines[line] += st.ns;
    }
    std::string out;
    for (const auto& [line, ns] : lines)
        out += line + " " + std::to_string(ns) + "\n";
    return out;
}

}  // namespace tk
