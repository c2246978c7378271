#!/bin/bash
# Installs the Debian 12 packages that building and testing sockvisor need, if missing.
set -euo pipefail

packages=(
        build-essential cmake pkg-config # compiler and build
        libsystemd-dev libinih-dev       # sd-event/sd-daemon, the ini parser
        libjansson-dev                   # JSON output (--json, events): valid UTF-8 JSON, not hand-written
        libcmocka-dev                    # unit tests
        curl procps python3              # end-to-end tests: an independent HTTP client, ps, fake peers
        systemd                          # systemd-socket-activate, systemd-analyze verify
        debootstrap systemd-container    # a real systemd as PID 1 in systemd-nspawn (tests)
        starman nginx iproute2           # real servers behind the fd dialects (tests), and ss
        nodejs gunicorn                  # unmodified servers: ready = accepting, intercept_bind (tests)
        prometheus                       # promtool check metrics, and a real scraper of /metrics (tests)
        clang libclang-rt-dev            # the libFuzzer targets (scripts/fuzz.sh): libFuzzer is in clang's runtime
        mandoc groff-base                # the man pages' lint (tests/lint/check_man.sh)
        dpkg-dev debhelper fakeroot lintian # the Debian package (debian/, tests/systemd/deb-test.sh)
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
# Packages such as nginx start their service on install (port 80; a failed start fails the
# install). The tests run their own servers: while installing, a policy-rc.d that this
# script adds, and only if there is none, tells invoke-rc.d not to start anything.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# added by sockvisor scripts/install-deps.sh while it installs\nexit 101\n' |
                $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
