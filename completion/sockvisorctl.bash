# bash completion for sockvisorctl                        -*- shell-script -*-
#
# Installed as bash-completion/completions/sockvisorctl; or `source` this file. Commands and
# options come from the sockvisorctl that is run (`sockvisorctl __complete commands`,
# `__complete options CMD`), so they never drift from the binary; program and group names,
# instances (pool:1, pool:*), group members (web:app, web:*) and socket names are asked of
# the running daemon, within half a second, and are simply not offered when none answers.

# words[] and cword from COMP_WORDS and COMP_CWORD, with the pieces bash split at ':' and
# '=' (COMP_WORDBREAKS) put back together: pool:1, tcp://127.0.0.1:8080, --socket=/x.
_sockvisorctl_words() {
        words=() cword=0
        local i w glue=0
        for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
                w=${COMP_WORDS[i]}
                if ((${#words[@]} > 0)) && { [[ $w == [:=] ]] || ((glue)); }; then
                        words[${#words[@]} - 1]+=$w
                        glue=0
                        [[ $w == [:=] ]] && glue=1
                else
                        words+=("$w")
                        glue=0
                fi
                ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
        done
}

# Runs `sockvisorctl [-s SOCKET] __complete ARGS...`: one word per line, nothing on error.
_sockvisorctl_ask() {
        local ctl=${words[0]:-sockvisorctl}
        [[ $ctl == */* || -z $ctl ]] || ctl=$(type -P "$ctl" 2>/dev/null || echo sockvisorctl)
        "$ctl" ${_sockvisorctl_socket:+-s "$_sockvisorctl_socket"} __complete "$@" 2>/dev/null
}

# COMPREPLY: the words (one per line) that start with cur, shown as bash will insert them.
_sockvisorctl_offer() { # WORDS
        local IFS=$'\n' w
        COMPREPLY=()
        for w in $1; do
                [[ $w == "$cur"* ]] && COMPREPLY+=("$w")
        done
        # bash replaces only what follows the last ':' of cur (it is in COMP_WORDBREAKS).
        if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
                local pre=${cur%"${cur##*:}"}
                COMPREPLY=("${COMPREPLY[@]#"$pre"}")
        fi
}

_sockvisorctl() {
        local words cword cur prev cmd= cmd_at=0 i w dashes=0 n_operands=0 _sockvisorctl_socket=
        _sockvisorctl_words
        cur=${words[cword]}
        prev=${words[cword - 1]:-}

        # The command word, the control socket given (names come from that daemon), and
        # exec's "--": everything after it is the command's.
        for ((i = 1; i < cword; i++)); do
                w=${words[i]}
                case $w in
                --) [ "$cmd" = exec ] && dashes=1 && break ;;
                -s | --socket) [ "$cmd" = exec ] && [ "$w" = --socket ] || _sockvisorctl_socket=${words[i + 1]:-}
                        ((i++)) ;;
                --socket=*) [ "$cmd" = exec ] || _sockvisorctl_socket=${w#--socket=} ;;
                -s*) _sockvisorctl_socket=${w#-s} ;;
                -n | --lines | --exec) ((i++)) ;;
                -*) ;;
                *) if [ -z "$cmd" ]; then cmd=$w cmd_at=$i; else n_operands=$((n_operands + 1)); fi ;;
                esac
        done
        if ((dashes)); then
                COMPREPLY=($(compgen -c -f -- "$cur"))
                return 0
        fi

        # A value for the option before it.
        case $prev in
        -s | --socket)
                if [ "$cmd" = exec ] && [ "$prev" = --socket ]; then
                        _sockvisorctl_offer "$(_sockvisorctl_ask sockets)"
                else
                        COMPREPLY=($(compgen -f -- "$cur"))
                fi
                return 0 ;;
        --exec) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        -n | --lines) COMPREPLY=(); return 0 ;;
        esac
        if [[ $cur == --socket=* ]]; then
                local value=${cur#--socket=}
                if [ "$cmd" = exec ]; then
                        cur=$value
                        _sockvisorctl_offer "$(_sockvisorctl_ask sockets)"
                else
                        COMPREPLY=($(compgen -f -- "$value"))
                fi
                [[ $COMP_WORDBREAKS == *=* ]] || COMPREPLY=("${COMPREPLY[@]/#/--socket=}")
                return 0
        fi

        if [[ $cur == -* ]]; then
                _sockvisorctl_offer "$(_sockvisorctl_ask options $cmd)"
                [ "$cmd" = exec ] && COMPREPLY+=($(compgen -W "--" -- "$cur"))
                return 0
        fi
        if [ -z "$cmd" ]; then
                _sockvisorctl_offer "$(_sockvisorctl_ask commands)"
                return 0
        fi

        case $cmd in
        start | stop | restart | pid)
                _sockvisorctl_offer "$(_sockvisorctl_ask names)"$'\nall' ;;
        status | logfiles | logs)
                _sockvisorctl_offer "$(_sockvisorctl_ask names)" ;;
        tail)
                if ((n_operands == 0)); then
                        _sockvisorctl_offer "$(_sockvisorctl_ask names)"
                else
                        _sockvisorctl_offer $'stdout\nstderr'
                fi ;;
        signal)
                if ((n_operands == 0)); then
                        _sockvisorctl_offer $'HUP\nINT\nTERM\nQUIT\nKILL\nUSR1\nUSR2\nWINCH\nCONT\nSTOP'
                else
                        _sockvisorctl_offer "$(_sockvisorctl_ask names)"$'\nall'
                fi ;;
        fetch) _sockvisorctl_offer "$(_sockvisorctl_ask sockets)" ;;
        exec) _sockvisorctl_offer $'--socket\n--' ;;
        why) _sockvisorctl_offer "$(_sockvisorctl_ask addresses)" ;;
        help) ((n_operands == 0)) && _sockvisorctl_offer "$(_sockvisorctl_ask commands)" ;;
        *) COMPREPLY=() ;;
        esac
        return 0
}

complete -F _sockvisorctl sockvisorctl
