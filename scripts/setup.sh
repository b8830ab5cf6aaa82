#!/usr/bin/env bash
# Installs what meshd needs on a fresh Debian machine, and nothing when it is all there.
# Idempotent and quiet: prints only what it installs. Called by `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: BPF toolchain, netns plumbing, the real peers the tests start.
# nginx/haproxy are the performance peers of bench/http; wrk and h2load (nghttp2-client) load it, and
# curl and h2load are real clients of the proxy tests. python3-grpcio is gRPC C-core,
# the second independent xDS client of the xDS tests (run with /usr/bin/python3); iptables is the
# peer of bench/bpf.
DEB_PACKAGES=(build-essential python3 clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 iptables iputils-ping etcd-server kcat dnsutils dnsmasq python3-grpcio curl wrk nghttp2-client nginx-light haproxy openssl)

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  # Packages such as dnsmasq and etcd-server start a system service on install; the tests
  # start their own instances on loopback, so keep the package scripts from starting any.
  policy_rc=/usr/sbin/policy-rc.d
  created_policy_rc=0
  if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy_rc" >/dev/null
    $SUDO chmod +x "$policy_rc"
    created_policy_rc=1
  fi
  trap '[[ $created_policy_rc -eq 1 ]] && $SUDO rm -f "$policy_rc"' EXIT
  $SUDO apt-get update -qq >/dev/null
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
fi

# The BPF filesystem: the datapath pins its maps and links under /sys/fs/bpf/meshd. Some machines
# boot without bpffs mounted; mounting it needs root, as loading BPF programs does anyway.
if [[ $(id -u) -eq 0 ]] && ! grep -qs ' /sys/fs/bpf bpf ' /proc/mounts; then
  mount -t bpf bpf /sys/fs/bpf
fi

# npm ci only when the lock file changed since the last install (node_modules/.package-lock.json
# is npm's own record of what is installed).
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
