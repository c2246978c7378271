#!/bin/bash
# A reload that changes mode= of a unix socket changes the mode of the socket sockvisord
# bound, never of whatever its path names now. Whoever can write the socket's directory
# can move the socket away and plant a symlink at its path; a chmod() on the path would
# then follow it and chmod any file (as root). The daemon holds an O_PATH handle on the
# socket file it created and changes the mode through that; it warns that the path no
# longer names its socket, and on exit it does not remove what it did not create.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || log "note: not root; the victim below is our own file, the check still holds"

write_config() { # MODE
        cat >"$T/sockvisor.ini" <<EOF
[sockvisord]
control = $CTL

[socket:app]
listen = unix:$T/app.sock
mode = $1

[program:w]
command = $TESTWORKER $T/w.report
sockets = app
ready = notify
EOF
}

write_config 0660
start_daemon "$T/sockvisor.ini"
wait_for_file "$T/w.report" || die "the worker wrote no report"
wait_state w 5 RUNNING || die "w is '$STATE', not RUNNING"
track "$(report_field "$T/w.report" pid)"
[ "$(stat -c %a "$T/app.sock")" = 660 ] && pass "app.sock is born 0660" ||
        fail "app.sock has mode $(stat -c %a "$T/app.sock"), expected 660"
ino=$(stat -c %i "$T/app.sock")

# The attack: move the socket away, plant a symlink to a file the attacker may not touch.
echo "secret" >"$T/victim"
chmod 0600 "$T/victim"
mv "$T/app.sock" "$T/moved.sock"
ln -s "$T/victim" "$T/app.sock"

write_config 0666
rc=0
ctl reload >"$T/reload.out" 2>&1 || rc=$?
sed 's/^/    /' "$T/reload.out"
[ "$rc" = 0 ] && pass "reload exits 0" || fail "reload exited $rc"
[ "$(stat -c %a "$T/victim")" = 600 ] && pass "the symlink's target keeps mode 0600" ||
        fail "the symlink's target is now $(stat -c %a "$T/victim"): chmod followed the planted symlink"
[ -L "$T/app.sock" ] && pass "the planted symlink is left alone" || fail "the planted symlink is gone"
[ "$(stat -c %i "$T/moved.sock")" = "$ino" ] || fail "moved.sock is not the socket the daemon bound"
[ "$(stat -c %a "$T/moved.sock")" = 666 ] && pass "the daemon's own socket file (moved) now has mode 0666" ||
        fail "the moved socket file has mode $(stat -c %a "$T/moved.sock"), expected 666"
grep -q "no longer names" "$T/reload.out" && pass "the reload warns that the path no longer names the socket" ||
        fail "the reload does not warn that $T/app.sock no longer names the socket"
grep -q "no longer names" "$T/daemon.log" && pass "and the daemon logs it" || fail "the daemon does not log it"

# Put the socket back: a later reload adjusts it without a warning, through the path too.
rm "$T/app.sock"
mv "$T/moved.sock" "$T/app.sock"
write_config 0640
rc=0
ctl reload >"$T/reload2.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ "$(stat -c %a "$T/app.sock")" = 640 ] && pass "with the socket back, reload sets 0640" ||
        fail "reload exited $rc, app.sock has mode $(stat -c %a "$T/app.sock"), expected 640"
grep -q "no longer names" "$T/reload2.out" && fail "a warning although the path names the socket again" ||
        pass "no warning once the path names the socket again"

# Exit: the socket file is ours again and is removed; a planted entry would not be.
stop_daemon
[ "$DAEMON_RC" = 0 ] && pass "clean exit" || fail "sockvisord exited $DAEMON_RC"
[ ! -e "$T/app.sock" ] && pass "the socket file is removed on exit" || fail "$T/app.sock is still there after exit"

# Exit with the path replaced again: the planted entry is not the daemon's to remove.
rm -f "$T/w.report"
start_daemon "$T/sockvisor.ini"
wait_for_file "$T/w.report" || die "the worker wrote no report (second daemon)"
track "$(report_field "$T/w.report" pid)"
mv "$T/app.sock" "$T/moved2.sock"
ln -s "$T/victim" "$T/app.sock"
stop_daemon
[ -L "$T/app.sock" ] && pass "on exit, a symlink planted at the path is left alone" ||
        fail "on exit, the daemon removed $T/app.sock, which it did not create"
finish
