#!/bin/bash
# Installs the Debian 12 packages that building and testing sockvisor need, if missing.
set -euo pipefail

packages=(
        build-essential cmake pkg-config # compiler and build
        libsystemd-dev libinih-dev       # sd-event/sd-daemon, the ini parser
        libcmocka-dev                    # unit tests
        curl procps python3              # end-to-end tests: an independent HTTP client, ps, fake peers
        systemd                          # systemd-socket-activate, systemd-analyze verify
        debootstrap systemd-container    # a real systemd as PID 1 in systemd-nspawn (tests)
        starman nginx iproute2           # real servers behind the fd dialects (tests), and ss
)
missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        sudo=sudo
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
