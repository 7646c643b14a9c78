#!/bin/sh
# Fuzzes the code that reads hostile input (docs/crashlab.md, "Fuzzing"): builds the
# libFuzzer targets into build-fuzz/ (clang, -DFUZZ=ON), makes seed corpora from real cores
# of the crash lab's victims, runs each target for N seconds, and prints for each its execs
# per second and the coverage it reached. Fails (exit 1) on any crash, leak, timeout,
# out-of-memory or sanitizer report, and prints the path of the input that caused it.
#   scripts/fuzz.sh [--seconds N] [--timeout S] [--parallel] [--build DIR] [TARGET...]
# TARGETs: core-file analyze proc (default: all). --seconds: per target (default 60);
# --timeout: an input running longer is a hang (default 10); --parallel: all targets at
# once, N seconds in all (each then gets its share of the CPUs: fewer execs/s; CI's way).
# The corpora grow across runs in DIR/fuzz/corpus/ (rm -r it to start again from the seeds).
set -eu
cd "$(dirname "$0")/.."
all="core-file analyze proc"
seconds=60
timeout=10
build=build-fuzz
parallel=false
usage() {
    sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit "$1"
}
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:-}"; shift $(($# > 1 ? 2 : 1)) ;;
        --timeout) timeout="${2:-}"; shift $(($# > 1 ? 2 : 1)) ;;
        --build) build="${2:?fuzz: --build needs a directory}"; shift 2 ;;
        --parallel) parallel=true; shift ;;
        -h | --help) usage 0 ;;
        -*) echo "fuzz: unknown option $1" >&2; usage 2 >&2 ;;
        *) break ;;
    esac
done
targets="${*:-$all}"
for t in $targets; do
    case " $all " in
        *" $t "*) ;;
        *) echo "fuzz: unknown target $t (one of: $all)" >&2; exit 2 ;;
    esac
done
for n in "$seconds" "$timeout"; do
    case "$n" in
        "" | *[!0-9]* | 0) echo "fuzz: --seconds and --timeout take whole seconds (> 0)" >&2; exit 2 ;;
    esac
done

scripts/install-deps.sh >/dev/null
work="$build/fuzz"
mkdir -p "$work"
start=$(date +%s)
echo "=== fuzz: building $build (clang, -DFUZZ=ON; log: $work/build.log)"
if ! cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUZZ=ON >"$work/build.log" 2>&1 ||
    ! cmake --build "$build" --target fuzz-all -j"$(nproc)" >>"$work/build.log" 2>&1; then
    grep -E "error|Error" "$work/build.log" | head -20
    echo "=== fuzz: build FAILED (log: $work/build.log)"
    exit 1
fi
bin="$build/bin"
built=$(($(date +%s) - start))
echo "=== fuzz: built in $built s"

# Seeds: real crashes of the -O0 victim (the executable fuzz-analyze analyses against),
# caught by crashlab run, their cores made small by fuzz-shrink-core (docs/crashlab.md,
# "Fuzzing"); and this machine's /proc texts. Made again when the victim is newer.
#   KIND[,thread][,timeout][,memory]: memory keeps the writable segments whole for
#   fuzz-analyze, where the evidence of an abort, an exception or a deadlock is
seeds="$work/seeds"
victim="$bin/crashlab-victim-O0"
crashes="null-read null-call stack-overflow write-readonly exec-nonexec div-zero trap
         external-signal null-read,thread double-free,memory assert,memory abort,memory
         uncaught-exception,memory terminate,memory pure-virtual,memory stack-smash,memory
         deadlock,timeout,memory"
if [ ! -f "$seeds/.made" ] || [ "$victim" -nt "$seeds/.made" ]; then
    rm -rf "$seeds" "$work/runs"
    mkdir -p "$seeds/core-file" "$seeds/analyze" "$seeds/proc" "$work/runs"
    for crash in $crashes; do
        kind=${crash%%,*}
        name=$(echo "$crash" | sed 's/,timeout//; s/,memory//; s/,/-/')
        args="$kind"
        opts=""
        memory=""
        case "$crash" in *,thread*) args="$kind --thread" ;; esac
        case "$crash" in *,timeout*) opts="--timeout 1" ;; esac
        case "$crash" in *,memory*) memory="--writable 262144" ;; esac
        # crashlab is instrumented here; its own leaks are not what this is for
        # shellcheck disable=SC2086
        ASAN_OPTIONS=detect_leaks=0 "$bin/crashlab" run -q $opts --dir "$work/runs/$name" \
            -- "$victim" $args >/dev/null 2>&1 || true
        core=$(ls "$work/runs/$name"/*/core 2>/dev/null | head -1)
        if [ -z "$core" ]; then
            echo "fuzz: no core from crashlab-victim-O0 $args (core_pattern: $(cat /proc/sys/kernel/core_pattern))" >&2
            exit 1
        fi
        "$bin/fuzz-shrink-core" "$core" "$seeds/core-file/$name" --stack 4096 >/dev/null
        # shellcheck disable=SC2086
        "$bin/fuzz-shrink-core" "$core" "$seeds/analyze/$name" --stack 16384 --elf-pages \
            $memory >/dev/null
    done
    # more than 65534 mappings: the count in section header 0
    "$bin/fuzz-shrink-core" "$core" "$seeds/core-file/$name-pn-xnum" --pn-xnum >/dev/null
    rm -rf "$work/runs"
    cat /proc/self/maps >"$seeds/proc/maps"
    cat /proc/self/status >"$seeds/proc/status"
    cat /proc/self/stat >"$seeds/proc/stat"
    cat /proc/2/stat >"$seeds/proc/stat-kthread"
    # kallsyms: the first symbols, and some of the modules' (with their [module])
    { head -50 /proc/kallsyms; grep -m 50 '\[' /proc/kallsyms || true; } >"$seeds/proc/kallsyms"
    touch "$seeds/.made"
    echo "=== fuzz: seeds made in $(($(date +%s) - start - built)) s: $(ls "$seeds/core-file" | wc -l) core seeds ($(du -sh "$seeds/core-file" | cut -f1) for core-file, $(du -sh "$seeds/analyze" | cut -f1) for analyze), $(ls "$seeds/proc" | wc -l) /proc texts"
fi

# fuzz_target T: runs target T for the time given, then prints what it did to
# $work/T.summary, and "failed" to $work/T.failed if it found anything.
fuzz_target() {
    t="$1"
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    log="$work/$t.log"
    out="$work/$t.summary"
    rm -f "$work/$t.failed"
    mkdir -p "$corpus" "$artifacts"
    status=0
    # Sanitizer reports end the run as a crash does; a leak counts too.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin/fuzz-$t" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" "$seeds/$t" "tests/fuzz/regressions/$t" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    counters=$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -1)
    last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p')
    {
        echo "    ${execs:-?} runs, ${rate:-?} execs/s, cov ${cov:-?} of ${counters:-?} edges, ft ${ft:-?}, corpus ${corp:-?}"
        if [ "$status" -ne 0 ]; then
            grep -E "^==[0-9]+==ERROR|^SUMMARY|runtime error|ALARM|out-of-memory|deadly signal|uncaught exception|terminate called" "$log" | head -5 | sed 's/^/    /'
            unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
            echo "=== fuzz-$t: FAILED (exit $status); reproducer: ${unit:-none written, see $log}"
            if [ -n "$unit" ]; then echo "    rerun: $bin/fuzz-$t $unit"; fi
            echo failed >"$work/$t.failed"
        else
            echo "=== fuzz-$t: ok"
        fi
    } >"$out"
}

if $parallel; then
    echo "=== fuzz: $targets at once, ${seconds} s (logs: $work/TARGET.log)"
    for t in $targets; do
        fuzz_target "$t" &
    done
    wait
fi
failed=""
for t in $targets; do
    if ! $parallel; then
        echo "=== fuzz-$t: ${seconds} s (log: $work/$t.log)"
        fuzz_target "$t"
    else
        echo "=== fuzz-$t"
    fi
    cat "$work/$t.summary"
    if [ -f "$work/$t.failed" ]; then failed="$failed $t"; fi
done
echo "fuzz: $(($(date +%s) - start)) s in all"
if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed"
    exit 1
fi
echo "fuzz: all passed ($targets)"
