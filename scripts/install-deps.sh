#!/usr/bin/env bash
# Installs every Debian package the project needs to build, test and run.
# Idempotent and quiet: when everything is present it prints nothing and exits 0.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format cppcheck valgrind
  libsqlite3-dev sqlite3
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
  libwebsockets-dev libwebsockets-evlib-ev libev-dev libjansson-dev libavro-dev libsodium-dev libcmocka-dev
  libnats-dev nats-server openssl
  python3-avro wrk chromium
  iptables  # bench/http/attacks.sh ATTACK_FIREWALL: the per-address SYN limit of docs/http.md
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
