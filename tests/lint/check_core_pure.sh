#!/bin/bash
# The pure core makes no effect of its own: every socket, process, signal and service
# manager call goes through the supervisor's ops table, so the simulator can drive the
# very code the daemon runs. This fails when libsv_core.a needs such a symbol, or one of
# the port doctor's I/O half (gather.c, in sv_doctor_io): the diagnosis takes facts, it
# never fetches them.
set -euo pipefail
lib=${1:?usage: $0 libsv_core.a}
forbidden='^(socket|socketpair|bind|listen|connect|accept4?|send(to|msg)?|recv(from|msg)?|fork|vfork|clone|execve?|execvpe?|posix_spawnp?|kill|killpg|waitpid|waitid|wait|open|openat|opendir|chmod|fchmod|fchmodat|unlink|setsockopt|epoll_.*|signalfd|timerfd_.*|sd_.*|sv_doctor_gather|sv_doctor_explain|sv_doctor_facts_done)$'
bad=$(nm -u "$lib" | awk '$1 == "U" { print $2 }' | sort -u | grep -E "$forbidden" || true)
if [ -n "$bad" ]; then
        echo "libsv_core.a must stay pure, but it calls:" $bad
        for s in $bad; do nm -A "$lib" 2>/dev/null | awk -v s="$s" '$2 == "U" && $3 == s { print "  " $1 }'; done
        exit 1
fi
echo "libsv_core.a: $(nm -u "$lib" | awk '$1 == "U"' | sort -u | wc -l) undefined symbols, none of them a socket, process, signal or sd_* call"
