#!/usr/bin/env python3
"""Benchmark: crashlab analyze against eu-stack and gdb on the same cores, in one run.

    bench/crashlab_bench.py [--build DIR] [--runs N] [--deep-runs N] [--no-deep-gdb]
                            [--no-deep] [--without-system-debug] [--markdown FILE]

Cores (made fresh by crashlab run, in a temporary directory):
  deep    main-thread stack overflow of the -O0 victim: ~87,000 frames
  simple  NULL read in the -O0 victim: 7 frames
  abort   double free in the -O2 victim (glibc abort path, inlined frames)

For each core it times, alternating the tools within every round so that drift on a
shared machine hits all of them alike:
  crashlab analyze --json FILE   full analysis: every thread unwound to the end, every
                                 frame symbolized with file:line and inlines, classified
  eu-stack -s -n 0               every frame, with source lines (plus -i for inlines)
  gdb -batch -ex bt              every frame of the crashing thread

and prints medians and the ratios crashlab/tool (below 1: crashlab is faster), with the
number of frames each tool reported, so that "fast" cannot mean "stopped early".
--without-system-debug (root) repeats it as on a machine without debug packages: in a
private mount namespace with an empty directory over /usr/lib/debug.
No threshold is checked here: numbers go in docs/perf-crashlab.md with the machine.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(argv, timeout=None):
    start = time.perf_counter()
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           errors="replace", timeout=timeout)
        out, code = p.stdout, p.returncode
    except subprocess.TimeoutExpired:
        out, code = "", "timeout"
    return time.perf_counter() - start, out, code


def make_core(crashlab, victim, kind, workdir):
    d = os.path.join(workdir, kind + "-" + os.path.basename(victim))
    subprocess.run([crashlab, "run", "-q", "--dir", d, "--", victim, kind],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for root, _, files in os.walk(d):
        if "core" in files:
            return os.path.join(root, "core")
    sys.exit(f"crashlab_bench: no core for {kind} in {d}")


def count_eu_frames(out):
    # Frames of the first thread (the crashing one).
    n, threads = 0, 0
    for line in out.splitlines():
        if line.startswith("TID "):
            threads += 1
            if threads == 2:
                break
        elif threads == 1 and re.match(r"^#\d+\s+0x", line):
            n += 1
    return n


def count_gdb_frames(out):
    return sum(1 for line in out.splitlines() if re.match(r"^#\d+\s", line))


def crashlab_frames(path):
    with open(path) as f:
        j = json.load(f)
    t = j["threads"][0]
    return sum(1 for fr in t["frames"] if not fr["inlined"]), len(t["frames"]), j["class"]


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ver = lambda argv: subprocess.run(argv, stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "elfutils": ver(["eu-stack", "--version"]),
        "gdb": ver(["gdb", "--version"]),
        "system debug info (/usr/lib/debug)": "yes" if os.path.isdir("/usr/lib/debug/.build-id") else "no",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-crashlab"))
    ap.add_argument("--runs", type=int, default=7, help="rounds for the small cores")
    ap.add_argument("--deep-runs", type=int, default=3,
                    help="rounds for the deep core (eu-stack needs minutes per round)")
    ap.add_argument("--no-deep-gdb", action="store_true",
                    help="skip gdb on the deep core (it takes minutes)")
    ap.add_argument("--deep-timeout", type=float, default=900)
    ap.add_argument("--no-deep", action="store_true", help="leave out the deep core")
    ap.add_argument("--without-system-debug", action="store_true",
                    help="hide /usr/lib/debug (needs root: unshare -m and a bind mount)")
    ap.add_argument("--markdown", help="also write the result table to FILE")
    args = ap.parse_args()

    if args.without_system_debug and not os.environ.get("CRASHLAB_BENCH_NAMESPACE"):
        empty = tempfile.mkdtemp(prefix="crashlab-bench-nodebug-")
        argv = [sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
        script = f"mount --bind {empty} /usr/lib/debug && exec " + " ".join(
            "'" + a.replace("'", "'\\''") + "'" for a in argv)
        env = dict(os.environ, CRASHLAB_BENCH_NAMESPACE="1")
        sys.exit(subprocess.run(["unshare", "-m", "sh", "-c", script], env=env).returncode)

    bin_dir = os.path.join(args.build, "bin")
    crashlab = os.path.join(bin_dir, "crashlab")
    v0 = os.path.join(bin_dir, "crashlab-victim-O0")
    v2 = os.path.join(bin_dir, "crashlab-victim-O2")
    for p in (crashlab, v0, v2):
        if not os.access(p, os.X_OK):
            sys.exit(f"crashlab_bench: {p} missing: build the crashlab targets first")
    for tool in ("eu-stack", "gdb"):
        if not shutil.which(tool):
            sys.exit(f"crashlab_bench: {tool} not found: scripts/install-deps.sh installs it")

    work = tempfile.mkdtemp(prefix="crashlab-bench-")
    try:
        cores = [] if args.no_deep else [
            ("deep", v0, make_core(crashlab, v0, "stack-overflow", work), args.deep_runs)]
        cores += [
            ("simple", v0, make_core(crashlab, v0, "null-read", work), args.runs),
            ("abort", v2, make_core(crashlab, v2, "double-free", work), args.runs),
        ]
        rows = []
        for name, exe, core, runs in cores:
            json_out = os.path.join(work, name + ".json")
            tools = {
                "crashlab": [crashlab, "analyze", "--json", json_out, core],
                "eu-stack -s": ["eu-stack", "-s", "-n", "0", "--core", core, "-e", exe],
                "eu-stack -s -i": ["eu-stack", "-s", "-i", "-n", "0", "--core", core, "-e", exe],
                "gdb bt": ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off",
                           "-ex", "bt", exe, core],
            }
            if name == "deep" and args.no_deep_gdb:
                del tools["gdb bt"]
            timeout = args.deep_timeout if name == "deep" else 120
            # Warm the page cache and the debug files once, untimed.
            for argv in tools.values():
                if name != "deep" or argv[0] == crashlab:
                    sh(argv, timeout)
            times = {t: [] for t in tools}
            frames = {}
            order = list(tools)
            # The deep core: crashlab as many rounds as the small cores get, eu-stack and gdb
            # (minutes each) only --deep-runs rounds.
            rounds = max(runs, args.runs) if name == "deep" else runs
            for r in range(rounds):
                for t in (order if r % 2 == 0 else list(reversed(order))):
                    if name == "deep" and t != "crashlab" and r >= runs:
                        continue
                    if name == "deep" and t.startswith("gdb") and r > 0:
                        continue  # one round of gdb on 87,000 frames is plenty
                    dt, out, code = sh(tools[t], timeout)
                    times[t].append(dt if code != "timeout" else float("inf"))
                    if t.startswith("eu-stack"):
                        frames[t] = count_eu_frames(out)
                    elif t.startswith("gdb"):
                        frames[t] = count_gdb_frames(out) if code != "timeout" else "timeout"
            machine_frames, all_frames, cls = crashlab_frames(json_out)
            frames["crashlab"] = f"{machine_frames} ({all_frames} with inlines), class {cls}"
            med = {t: statistics.median(v) for t, v in times.items() if v}
            for t in tools:
                ratio = med["crashlab"] / med[t] if t != "crashlab" and med.get(t) else None
                rows.append((name, t, med.get(t), len(times[t]), frames.get(t, ""), ratio))

        m = machine()
        lines = ["| core | tool | median s | runs | frames (crashing thread) | crashlab / tool |",
                 "|---|---|---|---|---|---|"]
        for name, t, med, n, fr, ratio in rows:
            med_s = "timeout" if med == float("inf") else f"{med:.3f}"
            ratio_s = "" if ratio is None else f"{ratio:.3f}"
            lines.append(f"| {name} | {t} | {med_s} | {n} | {fr} | {ratio_s} |")
        header = "machine: " + ", ".join(f"{k} {v}" for k, v in m.items())
        text = header + "\n\n" + "\n".join(lines) + "\n"
        print(text)
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
