#!/bin/bash
# `cmake --install` as an operator would run it, into a DESTDIR, twice: the configuration is
# installed the first time, and an edit made in between survives the second (an install
# never overwrites an existing sockvisor.ini). The demo worker is not installed by default;
# the man pages, the units, the shim and both binaries are, and the shipped config is valid
# and serves nothing until configured.
. "$(dirname "$0")/lib.sh"

D=$T/dest
install_into() { # LOG
        DESTDIR="$D" cmake --install "$BUILD" >"$1" 2>&1 || die "cmake --install failed: $(tail -n 5 "$1")"
}
install_into "$T/install1.log"
conf=$(find "$D" -path '*/sockvisor/sockvisor.ini' -type f | head -n 1)
[ -n "$conf" ] || die "the install put no sockvisor/sockvisor.ini in $D: $(find "$D" -type f)"
pass "the config is installed (${conf#"$D"})"
out=$("$SOCKVISORD" -t -c "$conf" 2>&1) && grep -q '(0 sockets, 0 programs)' <<<"$out" &&
        pass "the shipped config is valid and serves nothing: $out" || fail "the shipped config: $out"

printf '\n; edited by the operator\n[socket:mine]\nlisten = tcp://127.0.0.1:1\n' >>"$conf"
cp "$conf" "$T/edited.ini"
install_into "$T/install2.log"
cmp -s "$conf" "$T/edited.ini" && pass "a second install keeps the edited config" ||
        fail "the second install changed the config: $(diff "$T/edited.ini" "$conf")"
grep -q 'Kept: .*sockvisor.ini' "$T/install2.log" && pass "the install says it kept the config" ||
        fail "no 'Kept:' line in the second install's output: $(cat "$T/install2.log")"

has() { # DESCRIPTION FIND-ARGS...
        local what=$1
        shift
        [ -n "$(find "$D" "$@" | head -n 1)" ] && pass "installed: $what" || fail "not installed: $what"
}
has "sockvisord" -path '*/sbin/sockvisord' -type f -perm -u+x
has "sockvisorctl" -path '*/bin/sockvisorctl' -type f -perm -u+x
has "the bind shim" -path '*/sockvisor/libsockvisor-bind.so' -type f
has "sockvisord.service" -path '*/systemd/system/sockvisord.service' -type f
has "sockvisord.socket" -path '*/systemd/system/sockvisord.socket' -type f
has "sockvisorctl(1)" -path '*/man1/sockvisorctl.1' -type f
has "sockvisor.ini(5)" -path '*/man5/sockvisor.ini.5' -type f
has "sockvisord(8)" -path '*/man8/sockvisord.8' -type f
demo=$(find "$D" -name sockvisor-demo)
[ -z "$demo" ] && pass "no demo binary installed (SV_INSTALL_DEMO is off)" || fail "the demo binary is installed: $demo"
finish
