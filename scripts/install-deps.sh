#!/bin/sh
# Installs every Debian 12 package the project needs to build and to run its tests.
# Idempotent: packages already present are not touched, and a second run is a no-op.
#   scripts/install-deps.sh          build and test dependencies
#   scripts/install-deps.sh --peers  also the tools the benchmarks compare against
set -eu

BUILD="cmake make g++ clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libzstd-dev
       libdw-dev libunwind-dev libcapstone-dev libcli11-dev nlohmann-json3-dev
       libgtest-dev libgmock-dev libbenchmark-dev pkg-config libdeflate0
       libclang-rt-14-dev protobuf-compiler libprotobuf-dev liblz4-dev liblzma-dev
       libcpp-httplib-dev"
# what the tools read at run time: glibc's debug symbols name libc's internal functions in
# stacks and backtraces (__lll_lock_wait, where a contended mutex sleeps)
RUN="libc6-dbg"
# the independent sources every number is cross-checked against, the load (stress-ng), and
# a real browser for the SVGs the tools draw (headless chromium)
TEST="gdb elfutils linux-perf procps util-linux python3 file stress-ng chromium"
# crashlab reads the cores systemd-coredump keeps (its tests make it catch a crash, then
# put core_pattern back), and recompresses one with each tool; systemd-journald (package
# systemd, which systemd-coredump depends on) takes its journal entry; getfacl (acl) shows
# who may read the cores in the collector's benchmark against systemd-coredump
TEST="$TEST systemd systemd-coredump zstd xz-utils lz4 acl"
# a local debuginfod server serves the stripped victim's debug file to crashlab analyze
TEST="$TEST debuginfod"
# the Prometheus server and node_exporter that scrape concurrency-exporter in its tests
TEST="$TEST prometheus prometheus-node-exporter"
# the format check (ctest's test `format`)
LINT="clang-format"
# (bpfcc-tools: bcc's offcputime-bpfcc, the off-CPU stacks peer people know; it needs the
# running kernel's headers and a kprobe on finish_task_switch, which the development kernel
# lacks: the benchmark reports it as failed, with its message)
PEERS="libbpf-tools bpftrace bpfcc-tools"

want="$BUILD $RUN $TEST $LINT"
[ "${1:-}" = "--peers" ] && want="$want $PEERS"

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing; run as root (sudo $0)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || echo "install-deps: apt-get update failed; trying the cached package lists" >&2
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null || true)
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
# systemd-coredump's postinst points core_pattern at itself: the tests expect the pattern
# the machine had (DESIGN: "core"), and crashlab install takes it over only when asked
if [ -n "$pattern" ] && [ "$(cat /proc/sys/kernel/core_pattern)" != "$pattern" ]; then
    echo "$pattern" > /proc/sys/kernel/core_pattern &&
        echo "install-deps: kernel.core_pattern put back to '$pattern' (systemd-coredump had taken it)"
fi
