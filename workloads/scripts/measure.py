#!/usr/bin/env python3
"""Runs every workload and the coroutine switch benchmark and prints the results as the
markdown tables of docs/perf-workloads.md, headed by the machine they ran on.

    workloads/scripts/measure.py [--bin BUILD/bin] [--quick]

Everything comes from the workloads' own --json output; nothing here measures anything
itself. --quick uses small counts (a smoke run of the script, not numbers to publish).
"""
import argparse
import json
import os
import platform
import subprocess
import sys


def run_json(binary, *args):
    out = subprocess.run([binary, *args, "--json", "-"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def ns(v):
    v = float(v)
    if abs(v) < 1e3:
        return f"{v:.1f} ns" if abs(v) < 100 else f"{v:.0f} ns"
    if abs(v) < 1e6:
        return f"{v / 1e3:.2f} us"
    return f"{v / 1e6:.2f} ms"


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return (f"- `nproc`: {os.cpu_count()}\n- `uname -r`: {platform.release()}\n"
            f"- CPU: {model}\n- load average when the run started: {load}\n")


def bench(bindir, quick):
    args = [os.path.join(bindir, "coroutine_switch_bench"), "--benchmark_format=json"]
    args += ["--benchmark_min_time=0.01"] if quick else [
        "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true"]
    data = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    rows = ["| benchmark | per switch (CPU time) | per switch (wall time) |", "|---|---|---|"]
    for b in data["benchmarks"]:
        if not quick and b.get("aggregate_name") != "median":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6}[b["time_unit"]]
        switches = 2 if "per_switch" in b else 1
        what = "per call" if switches == 1 else ""
        rows.append(f"| {name} {what}| {ns(b['cpu_time'] * scale / switches)} "
                    f"| {ns(b['real_time'] * scale / switches)} |")
    return "\n".join(rows) + "\n"


def pingpong(bindir, quick):
    binary = os.path.join(bindir, "pingpong")
    pairs = [line.split() for line in subprocess.run(
        [binary, "--list"], check=True, capture_output=True, text=True).stdout.splitlines()]
    out = []
    for placement, extra in [("unpinned", []), ("both on CPU 0", ["--cpu", "0"]),
                             ("CPU 0 and CPU 1", ["--cpu", "0,1"])]:
        out.append(f"\n**{placement}**\n")
        out.append("| model | IPC | round trip p50 | p99 | baseline | switch cost | "
                   "kernel switches / rt | user switches / rt | verified |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for model, ipc in pairs:
            n = ["-n", "2000" if quick else ("1000000" if model == "coroutine" else "20000")]
            j = run_json(binary, "--model", model, "--ipc", ipc, *n, *extra)
            out.append(f"| {model} | {ipc} | {ns(j['rtt_p50_ns'])} | {ns(j['rtt_p99_ns'])} | "
                       f"{ns(j['baseline_ns'])} | {ns(j['switch_cost_ns'])} | "
                       f"{j['kernel_switches_per_rt']:.2f} | {j['user_switches_per_rt']:.0f} | "
                       f"{'yes' if j['verified'] else 'NO'} |")
    return "\n".join(out) + "\n"


def cpuio(bindir, quick):
    binary = os.path.join(bindir, "cpuio")
    out = ["| model | kind | workers | ops/s | speedup | CPUs used | op p50 | op p99 | "
           "switches/op |", "|---|---|---|---|---|---|---|---|---|"]
    for kind in ["cpu", "io"]:
        for model in ["process", "thread", "coroutine"]:
            args = ["--model", model, "--kind", kind]
            if quick:
                args += ["-n", "10", "-w", "1,2"]
            j = run_json(binary, *args)
            for s in j["steps"]:
                out.append(f"| {model} | {kind} | {s['workers']} | {s['ops_per_sec']:.0f} | "
                           f"{s['speedup']:.2f} | {s['cpus_used']:.2f} | {ns(s['op_p50_ns'])} | "
                           f"{ns(s['op_p99_ns'])} | {s['switches_per_op']:.2f} |")
    return "\n".join(out) + "\n"


def pools(bindir, quick):
    j = run_json(os.path.join(bindir, "pools"), *(["-n", "100"] if quick else []))
    out = [f"{j['workers']} tasks in flight, tasks hash {j['task_bytes']} bytes\n",
           "| mode | tasks/s | latency p50 | latency p99 | switches/task |",
           "|---|---|---|---|---|"]
    for r in j["runs"]:
        out.append(f"| {r['mode']} | {r['tasks_per_sec']:.0f} | {ns(r['latency_p50_ns'])} | "
                   f"{ns(r['latency_p99_ns'])} | {r['switches_per_task']:.2f} |")
    return "\n".join(out) + "\n"


def contention(bindir, quick):
    binary = os.path.join(bindir, "contention")
    out = ["| mode | model | ops/s | wait p50 | wait p99 | switches/op | verified |",
           "|---|---|---|---|---|---|---|"]
    for mode in ["mutex", "spin", "rwlock", "condvar", "semaphore"]:
        for model in ["thread", "process"]:
            j = run_json(binary, "--mode", mode, "--model", model,
                         *(["-n", "500"] if quick else []))
            out.append(f"| {mode} | {model} | {j['ops_per_sec']:.0f} | {ns(j['wait_p50_ns'])} | "
                       f"{ns(j['wait_p99_ns'])} | {j['switches_per_op']:.2f} | "
                       f"{'yes' if j['verified'] else 'NO'} |")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--bin", default=os.path.join(here, "..", "..", "..", "build", "bin"),
                        help="directory with the built workloads (default: build/bin)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(args.bin, "pingpong")):
        sys.exit(f"measure.py: no pingpong in {args.bin}: build first, or pass --bin DIR")
    sections = [("Machine", machine), ("Coroutine switch microbenchmark", bench),
                ("pingpong", pingpong), ("cpuio", cpuio), ("pools", pools),
                ("contention", contention)]
    for title, fn in sections:
        print(f"### {title}\n")
        print(fn() if fn is machine else fn(args.bin, args.quick))


if __name__ == "__main__":
    main()
