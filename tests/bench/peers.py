"""Shared by the overhead benchmarks: running a system-wide peer tool (runqlat, offcputime,
bpftrace, perf ...) beside a workload."""
import os
import re
import signal
import subprocess
import tempfile
import time

# `ready` for a tool that prints nothing until it ends: it is attached once it holds a BPF link
BPF_LINK = object()


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
