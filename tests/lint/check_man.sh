#!/bin/bash
# The man pages are mdoc: mandoc checks every macro and its arguments, and groff (what man
# renders them with on Debian) must take them without a warning. Any output fails.
set -euo pipefail
dir=${1:?usage: $0 MANDIR}
for tool in mandoc groff; do
        command -v "$tool" >/dev/null || { echo "$tool missing: scripts/install-deps.sh installs it"; exit 1; }
done
pages=("$dir"/*.[0-9])
[ -e "${pages[0]}" ] || { echo "no man pages in $dir"; exit 1; }
bad=0
for page in "${pages[@]}"; do
        out=$(mandoc -T lint -W warning "$page" 2>&1; groff -ww -mandoc -z "$page" 2>&1)
        if [ -n "$out" ]; then
                printf '%s\n' "$out"
                bad=1
        else
                echo "ok: ${page##*/}"
        fi
done
exit "$bad"
