"""Shared by the overhead benchmarks: running the variants in alternating rounds, the ratio
to the untraced run of the same round, and running a system-wide peer tool (runqlat,
offcputime, bpftrace, perf ...) beside a workload."""
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# `ready` for a tool that prints nothing until it ends: it is attached once it holds a BPF link
BPF_LINK = object()


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now (for a server the benchmark starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_line():
    """The line that says which machine a benchmark ran on."""
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"machine: {platform.node()}, {os.cpu_count()} CPUs, {cpu}, Linux {platform.release()}"


def sized(sizes, key, path, run):
    """A run of a recorder: run(), then the size of the file it wrote at path appended to
    sizes[key], and the file removed."""
    def one():
        try:
            return run()
        finally:
            if os.path.exists(path):
                sizes.setdefault(key, []).append(os.path.getsize(path))
                os.unlink(path)
    return one


def run_rounds(variants, rounds, show, prefix=""):
    """Runs each available variant of variants [(key, label, run, available)] once per
    round. Each round starts one variant later than the last, so that slow phases of a
    shared machine hit all of them alike and no variant always runs in the same place.
    Returns (results, errors): key -> the values run() returned, in round order; key -> the
    last line of the error of a variant that failed (a peer that fails on this kernel is
    reported, not fatal; it is not run again). show(value) formats a value for the
    progress line on stderr."""
    results = {key: [] for key, *_ in variants}
    errors = {}
    for r in range(rounds):
        shift = r % len(variants)
        for key, _label, run, available in variants[shift:] + variants[:shift]:
            if not available or key in errors:
                continue
            try:
                results[key].append(run())
            except Exception as e:
                text = getattr(e, "stderr", None) or str(e)
                errors[key] = (text.strip().splitlines() or ["?"])[-1][:160]
        print(f"{prefix}round {r + 1}/{rounds}: " +
              ", ".join(f"{k} {show(v[-1])}" for k, v in results.items() if v), file=sys.stderr, flush=True)
    return results, errors


def paired_ratio(results, key, value=lambda x: x, base="untraced"):
    """The median over rounds of value(KEY's result) / value(the base's result of the same
    round). Slow phases of a shared VM often last a whole round: this moves less with them
    than the ratio of the medians. (A variant that failed midway pairs its rounds with the
    base's first ones, which are the same rounds.)"""
    return statistics.median(value(v) / value(u) for u, v in zip(results[base], results[key]))


def has_bpf_links(pid):
    """Whether process pid holds a BPF link (its programs are attached)."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        return any(os.readlink(os.path.join(fd_dir, fd)) == "anon_inode:bpf_link" for fd in os.listdir(fd_dir))
    except OSError:
        return False


def run_beside(tool_cmd, ready, run, settle=1.0):
    """Starts tool_cmd, waits until it is attached, waits `settle` seconds more, returns
    run() and stops the tool (SIGINT to its process group, SIGKILL after 60 s). ready: a
    regular expression its output matches once attached, BPF_LINK, or None (no sign to wait
    for: `settle` is all the wait)."""
    log = tempfile.TemporaryFile(mode="w+")
    tool = subprocess.Popen(tool_cmd, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 30
    while True:
        time.sleep(0.1)
        log.seek(0)
        text = log.read()
        if tool.poll() is not None:
            raise RuntimeError(f"{tool_cmd[0]} exited early:\n{text}")
        if ready is None or (has_bpf_links(tool.pid) if ready is BPF_LINK else re.search(ready, text)):
            break
        if time.time() > deadline:
            os.killpg(tool.pid, signal.SIGKILL)
            tool.wait()
            raise RuntimeError(f"{tool_cmd[0]} did not attach within 30 s:\n{text}")
    time.sleep(settle)
    try:
        return run()
    finally:
        os.killpg(tool.pid, signal.SIGINT)
        try:
            tool.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(tool.pid, signal.SIGKILL)
            tool.wait()
        log.close()
