#!/bin/sh
# Builds the project the ways a user or a packager would, each in a directory of its own
# under build-matrix/, warnings as errors, and runs the tests each one can run:
#   default    the README's build (RelWithDebInfo)             no tests here (test.sh runs them)
#   release    -DCMAKE_BUILD_TYPE=Release (-O3)                unit tests
#   debian     Debian's packaging flags (dpkg-buildflags: -O2, stack protector,
#              _FORTIFY_SOURCE, -Werror=format-security, relro)  unit tests
#   clang      CC=clang CXX=clang++                            unit tests
#   clang-O0   the same without optimization or debug info:    unit tests
#              clang's warnings (its front end's) in about
#              half the time
#   clang-syntax  clang's front end alone (-fsyntax-only) on   none (nothing is linked)
#              every file of ours: clang's warnings, no code
#              generated, in about a third of clang-O0's time;
#              what CI runs
#   sanitize   -DSANITIZE=ON (ASan + UBSan)                    unit and crash-lab tests
#   fuzz       -DFUZZ=ON (clang, libFuzzer: scripts/fuzz.sh)   each fuzz target for 10 s
# Run it before landing anything that touches the build. It takes long on 2 cores (a full
# build each): name the ones to run, or none for all.
#   scripts/build-matrix.sh [default|release|debian|clang|clang-O0|sanitize|fuzz ...]
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
if ! command -v dpkg-buildflags >/dev/null; then  # the debian build's flags
    echo "build-matrix: installing dpkg-dev (dpkg-buildflags)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
fi
all="default release debian clang clang-O0 clang-syntax sanitize fuzz"
which="${*:-$all}"
jobs="$(nproc)"
failed=""

build() {  # NAME CMAKE_ARGS... (environment from the caller)
    name="$1"
    shift
    dir="build-matrix/$name"
    echo "=== $name: cmake $*"
    if ! cmake -S . -B "$dir" -DWERROR=ON "$@" >"$dir.log" 2>&1 ||
        ! cmake --build "$dir" -j"$jobs" >>"$dir.log" 2>&1; then
        grep -E "error|Error" "$dir.log" | head -20
        echo "=== $name: build FAILED (log: $dir.log)"
        failed="$failed $name"
        return 1
    fi
    echo "=== $name: built"
}

run_tests() {  # NAME CTEST_ARGS...
    name="$1"
    shift
    if (cd "build-matrix/$name" && ctest --output-on-failure -j"$jobs" "$@") \
        >>"build-matrix/$name.log" 2>&1; then
        echo "=== $name: $(grep 'tests passed' "build-matrix/$name.log" | tail -1)"
    else
        grep -E "tests passed|Failed|FAILED" "build-matrix/$name.log" | tail -10
        echo "=== $name: tests FAILED (log: build-matrix/$name.log)"
        failed="$failed $name"
    fi
}

# clang's front end on every translation unit of ours (the sources under this tree, each
# once), warnings as errors: configured as the clang build is, only the generated headers
# built (the BPF skeletons, the Perfetto protobuf code), then clang -fsyntax-only per file.
clang_syntax() {
    dir=build-matrix/clang-syntax
    echo "=== clang-syntax: clang -fsyntax-only on every file"
    if ! CC=clang CXX=clang++ cmake -S . -B "$dir" -DWERROR=ON -DCMAKE_BUILD_TYPE=None \
        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$dir.log" 2>&1 ||
        ! cmake --build "$dir" -j"$jobs" --target bpf_skeletons tk_perfetto_proto \
            >>"$dir.log" 2>&1; then
        grep -E "error|Error" "$dir.log" | head -20
        echo "=== clang-syntax: generated headers FAILED (log: $dir.log)"
        failed="$failed clang-syntax"
        return 1
    fi
    # one command per file: -fsyntax-only instead of -c and -o
    python3 - "$dir/compile_commands.json" "$(pwd)" >"$dir/commands" <<'PY'
import json, shlex, sys
commands, source = json.load(open(sys.argv[1])), sys.argv[2] + "/"
seen = set()
for entry in commands:
    path = entry["file"]
    if not path.startswith(source) or path in seen:
        continue
    seen.add(path)
    argv, out, skip = shlex.split(entry["command"]), [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "-o":
            skip = True
        elif arg != "-c":
            out.append(arg)
    print("cd %s && %s -fsyntax-only" % (shlex.quote(entry["directory"]), shlex.join(out)))
PY
    if ! tr '\n' '\0' <"$dir/commands" | xargs -0 -P"$jobs" -n1 sh -c >>"$dir.log" 2>&1; then
        grep -E "error|warning" "$dir.log" | head -20
        echo "=== clang-syntax: FAILED (log: $dir.log)"
        failed="$failed clang-syntax"
        return 1
    fi
    echo "=== clang-syntax: $(wc -l <"$dir/commands") files, no warning"
}

mkdir -p build-matrix
for name in $which; do
    case "$name" in
        default)
            build default -DCMAKE_BUILD_TYPE=RelWithDebInfo || true ;;
        release)
            build release -DCMAKE_BUILD_TYPE=Release && run_tests release -L unit ;;
        debian)
            cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
            cxxflags="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
            ldflags="$(dpkg-buildflags --get LDFLAGS)"
            CFLAGS="$cflags" CXXFLAGS="$cxxflags" LDFLAGS="$ldflags" \
                build debian -DCMAKE_BUILD_TYPE=None && run_tests debian -L unit ;;
        clang)
            CC=clang CXX=clang++ build clang -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
                run_tests clang -L unit ;;
        clang-O0)
            CC=clang CXX=clang++ build clang-O0 -DCMAKE_BUILD_TYPE=None &&
                run_tests clang-O0 -L unit ;;
        clang-syntax)
            clang_syntax || true ;;
        sanitize)
            build sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANITIZE=ON &&
                run_tests sanitize -L "unit|crashlab" ;;
        fuzz)
            # its own build (the fuzz targets only) and run: scripts/fuzz.sh
            echo "=== fuzz: scripts/fuzz.sh --build build-matrix/fuzz --seconds 10"
            if scripts/fuzz.sh --build build-matrix/fuzz --seconds 10 >build-matrix/fuzz.log 2>&1; then
                echo "=== fuzz: $(tail -1 build-matrix/fuzz.log | sed "s/^fuzz: //")"
            else
                grep -E "FAILED|reproducer|rerun" build-matrix/fuzz.log | head -10
                echo "=== fuzz: FAILED (log: build-matrix/fuzz.log)"
                failed="$failed fuzz"
            fi ;;
        *)
            echo "build-matrix: unknown build $name (one of: $all)" >&2
            exit 2 ;;
    esac
done
if [ -n "$failed" ]; then
    echo "build-matrix: FAILED:$failed"
    exit 1
fi
echo "build-matrix: all passed ($which)"
