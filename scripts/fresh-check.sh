#!/bin/sh
# Runs the README's two commands as a new user would, on a fresh Debian 12 machine: makes a
# fresh Debian 12 root with debootstrap (minbase), puts a clean clone of HEAD in
# /root/project, binds the kernel's /proc, /sys and /dev into it (BPF, tracefs and BTF come
# with /sys), and runs, as root in that root,
#     ./scripts/main.sh
#     CI=true ./scripts/test.sh
# Prints both results with their logs; exits 0 only when both passed. Not part of CI (it
# takes 10 to 20 minutes); run it before landing anything that touches installation, the
# build or what the tests assume about the machine.
#   sudo scripts/fresh-check.sh [--keep] [--mirror URL] [WORK_DIR]
# WORK_DIR (default: a new directory under /var/tmp) holds the root and the logs; with
# --keep the root stays there for a look (chroot WORK_DIR/root), else it is removed.
set -eu

keep=false
mirror=http://deb.debian.org/debian
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=true ;;
        --mirror) mirror="$2"; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fresh-check: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done
if [ "$(id -u)" -ne 0 ]; then
    echo "fresh-check: needs root (debootstrap, chroot, mounts): run it with sudo" >&2
    exit 1
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d /var/tmp/fresh-check.XXXXXX)}"
mkdir -p "$work"
root="$work/root"
if [ -e "$root" ]; then
    echo "fresh-check: $root exists: give another WORK_DIR, or remove it" >&2
    exit 1
fi

if ! command -v debootstrap >/dev/null; then
    echo "fresh-check: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# Whatever happens, nothing of the host stays mounted in the root, and the root is removed
# only once nothing is mounted in it (a removal through a bind mount would reach the host).
mounted_under() { awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }
cleanup() {
    for m in $(mounted_under | sort -r); do umount -l "$m" 2>/dev/null || true; done
    if [ -n "$(mounted_under)" ]; then
        echo "fresh-check: still mounted under $root, not removing it:" >&2
        mounted_under >&2
    elif ! $keep; then
        rm -rf --one-file-system "$root"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "fresh-check: debootstrap bookworm (minbase) into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    echo "fresh-check: debootstrap failed (log: $work/debootstrap.log)" >&2
    exit 1
}
# The suites a Debian 12 install has: the release, its updates and its security updates.
security="$(echo "$mirror" | sed 's|/debian$|/debian-security|')"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
# apt settings of this host that a package mirror needs (proxies, snapshot dates), if any
for f in /etc/apt/apt.conf.d/*proxy* /etc/apt/apt.conf.d/99artifact-registry; do
    [ -f "$f" ] && cp "$f" "$root/etc/apt/apt.conf.d/"
done

git clone -q --no-local "$repo" "$root/root/project"
git -C "$root/root/project" checkout -q "$(git -C "$repo" rev-parse HEAD)"
echo "fresh-check: HEAD $(git -C "$repo" rev-parse --short HEAD) cloned into /root/project"

for d in proc sys dev; do
    mount --rbind "/$d" "$root/$d"
    mount --make-rslave "$root/$d"
done

# As a root login would: a clean environment, the checkout as the working directory.
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/sh \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        TERM=dumb "$@" </dev/null
}

main_rc=0
echo "fresh-check: ./scripts/main.sh (log: $work/main.log)"
in_root /bin/sh -c 'cd /root/project && ./scripts/main.sh' >"$work/main.log" 2>&1 || main_rc=$?
test_rc=0
echo "fresh-check: CI=true ./scripts/test.sh (log: $work/test.log)"
in_root /bin/sh -c 'cd /root/project && CI=true ./scripts/test.sh' >"$work/test.log" 2>&1 ||
    test_rc=$?

echo
echo "=== ./scripts/main.sh: exit $main_rc; its last lines:"
tail -15 "$work/main.log"
echo
echo "=== CI=true ./scripts/test.sh: exit $test_rc; ctest's summary:"
sed -n '/tests passed/,$p' "$work/test.log"
echo
if [ "$main_rc" -eq 0 ] && [ "$test_rc" -eq 0 ]; then
    echo "fresh-check: both commands passed on a fresh Debian 12 root (logs: $work)"
    exit 0
fi
echo "fresh-check: FAILED (main.sh $main_rc, test.sh $test_rc; logs: $work)"
exit 1
