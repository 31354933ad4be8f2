// loop completion bash|zsh
//
// The scripts are fixed text. Both shells share one description of the
// command tree and one parser of the command line (written in the common
// subset of bash and zsh); each adds a small driver that turns "what to
// offer" into its own completion calls. tests/cli/completion.bats keeps the
// tree in sync with `loop ... --help`.
#include "cmd/cmd.hpp"
#include "core/error.hpp"

#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

const char* const kCommon = R"sh(
# The command tree. Flags that take a value end in '='; -h/--help are
# offered everywhere and not listed.
_loop_subs_of() {
    case $1 in
    '') _loop_r='_ claims sessions reap supervise reload restart stop start status events logs metrics doctor completion version' ;;
    _) _loop_r='claim unclaim renew with owner session' ;;
    '_ session') _loop_r='start heartbeat end' ;;
    *) _loop_r= ;;
    esac
    return 0
}

_loop_flags_of() {
    case $1 in
    '') _loop_r='--home= --backend=' ;;
    '_ claim') _loop_r='--session= --wait= --ttl= --shared --shared-name= --reason= --meta= --json' ;;
    '_ unclaim') _loop_r='--session= --force' ;;
    '_ renew') _loop_r='--ttl= --session=' ;;
    '_ with') _loop_r='--session= --wait= --ttl= --shared --shared-name= --reason= --meta= --conflict-exit-code=' ;;
    '_ owner') _loop_r='--json' ;;
    '_ session start') _loop_r='--pid= --ttl= --label= --json' ;;
    claims | sessions | status | reload | restart | stop | start) _loop_r='--json' ;;
    reap) _loop_r='--dry-run --json --retention=' ;;
    supervise) _loop_r='--metrics-file= --metrics-listen= -v --verbose -q --quiet' ;;
    events) _loop_r='-f --follow --since= --json' ;;
    logs) _loop_r='-f --follow -n= --lines=' ;;
    doctor) _loop_r='--repair --json' ;;
    *) _loop_r= ;;
    esac
    return 0
}

# _loop_in WORD LIST: WORD is one of the space-separated LIST.
_loop_in() {
    case " $2 " in
    *" $1 "*) return 0 ;;
    esac
    return 1
}

# _loop_parse WORD...: reads the words between the command name and the
# cursor. Sets _loop_path (the verbs so far, e.g. "_ claim"), _loop_npos
# (arguments after them), _loop_want (the flag whose value is being typed),
# _loop_dd (position of the first word after "--", 0 if none) and
# _loop_home (the value of --home, as typed).
_loop_parse() {
    _loop_path='' _loop_npos=0 _loop_want='' _loop_dd=0 _loop_home=''
    local w i=0
    for w in "$@"; do
        i=$((i + 1))
        [ "$_loop_dd" -gt 0 ] && continue
        if [ -n "$_loop_want" ]; then
            # bash splits --flag=value at '='
            [ "$w" = '=' ] && continue
            [ "$_loop_want" = --home ] && _loop_home=$w
            _loop_want=''
            continue
        fi
        case $w in
        --) _loop_dd=$((i + 1)) ;;
        '=') ;;
        --home=*) _loop_home=${w#--home=} ;;
        -*=*) ;;
        -*)
            _loop_flags_of "$_loop_path"
            _loop_in "$w=" "$_loop_r --home= --backend=" && _loop_want=$w
            ;;
        *)
            _loop_subs_of "$_loop_path"
            if [ "$_loop_npos" -eq 0 ] && [ -n "$_loop_r" ] && _loop_in "$w" "$_loop_r"; then
                _loop_path=${_loop_path:+$_loop_path }$w
            else
                _loop_npos=$((_loop_npos + 1))
            fi
            ;;
        esac
    done
    return 0
}

# _loop_decide CUR: what to offer for the word CUR, after _loop_parse.
# Sets _loop_kind (words, claims, sessions, logs, playbook, dirs, files, command
# or none) and _loop_words (the candidates when _loop_kind is words).
_loop_decide() {
    _loop_kind=none _loop_words=''
    if [ "$_loop_dd" -gt 0 ]; then
        [ "$_loop_path" = '_ with' ] && _loop_kind='command'
        return 0
    fi
    if [ -n "$_loop_want" ]; then
        case $_loop_want in
        --home) _loop_kind=dirs ;;
        --session) _loop_kind=sessions ;;
        --metrics-file) _loop_kind=files ;;
        esac
        return 0
    fi
    local subs flags
    _loop_subs_of "$_loop_path"
    subs=$_loop_r
    _loop_flags_of "$_loop_path"
    flags="${_loop_r//=/} --help"
    case $1 in
    -*)
        _loop_kind=words _loop_words=$flags
        return 0
        ;;
    esac
    if [ -n "$subs" ]; then
        [ "$_loop_npos" -eq 0 ] && _loop_kind=words _loop_words=$subs
        return 0
    fi
    case $_loop_path in
    '_ unclaim' | '_ renew') _loop_kind=claims ;;
    '_ owner') [ "$_loop_npos" -eq 0 ] && _loop_kind=claims ;;
    '_ session heartbeat' | '_ session end') [ "$_loop_npos" -eq 0 ] && _loop_kind=sessions ;;
    supervise) [ "$_loop_npos" -eq 0 ] && _loop_kind=playbook ;;
    logs) [ "$_loop_npos" -eq 0 ] && _loop_kind=logs ;;
    restart | stop | start) [ "$_loop_npos" -eq 0 ] && _loop_kind=sessions ;;
    completion) [ "$_loop_npos" -eq 0 ] && _loop_kind=words _loop_words='bash zsh' ;;
    '_ claim' | '_ with') ;; # new names: nothing to offer
    *) _loop_kind=words _loop_words=$flags ;;
    esac
    return 0
}

# _loop_bin_of WORD: the loop to ask, from the command word as typed.
_loop_bin_of() {
    _loop_bin=$1
    case $_loop_bin in
    \~/*) _loop_bin=$HOME/${_loop_bin#\~/} ;;
    esac
    command -v "$_loop_bin" >/dev/null 2>&1 || _loop_bin=loop
    return 0
}

# _loop_live claims|sessions|logs: the names of held claims, the ids of live
# sessions, or the workers and replicas with a log (WORKER, WORKER.N), one a line. Prints nothing when anything fails, and asks loop
# only when HOME/claims (or HOME/sessions) exists: a lookup must never
# create a home, nor a directory inside one.
_loop_live() {
    local home=$_loop_home
    home=${home#[\"\']}
    home=${home%[\"\']}
    case $home in
    \~) home=$HOME ;;
    \~/*) home=$HOME/${home#\~/} ;;
    esac
    if [ -z "$home" ]; then
        if [ -n "${LOOP_HOME:-}" ]; then
            home=$LOOP_HOME
        elif [ -n "${XDG_STATE_HOME:-}" ]; then
            home=$XDG_STATE_HOME/loop
        else
            home=${HOME:-}/.local/state/loop
        fi
    fi
    [ -d "$home/$1" ] || return 0
    case $1 in
    claims)
        "$_loop_bin" --home "$home" claims </dev/null 2>/dev/null |
            awk 'NR > 1 && !seen[$1]++ { print $1 }' 2>/dev/null
        ;;
    sessions)
        "$_loop_bin" --home "$home" sessions </dev/null 2>/dev/null |
            awk 'NR > 1 && $4 != "no" { print $1 }' 2>/dev/null
        ;;
    logs)
        find "$home/logs" -maxdepth 1 -type f -name '*.log*' 2>/dev/null |
            awk -F/ '{ print $NF }' | awk -F. '/^[A-Za-z0-9_][A-Za-z0-9_-]*\.[0-9]+\..*log/ && !seen[$1"."$2]++ {
                if (!w[$1]++) print $1; print $1"."$2 }' 2>/dev/null
        ;;
    esac
    return 0
}
)sh";

const char* const kBash = R"sh(# bash completion for loop
#
#   source <(loop completion bash)          # in ~/.bashrc, or:
#   loop completion bash > ~/.local/share/bash-completion/completions/loop
)sh";

const char* const kBashDriver = R"sh(
_loop() {
    local _loop_r _loop_path _loop_npos _loop_want _loop_dd _loop_home
    local _loop_kind _loop_words _loop_bin
    # bash splits words at ':' and '=' (COMP_WORDBREAKS); claim names and
    # --flag=value need them whole: glue them back.
    local -a words=() at=()
    local i w glue=0
    for ((i = 1; i <= COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ ${#words[@]} -gt 0 && ($w == ':' || $w == '=' || $glue == 1) ]]; then
            words[${#words[@]} - 1]+=$w
            if [[ $w == ':' || $w == '=' ]]; then glue=1; else glue=0; fi
        else
            words+=("$w")
            at+=("$i")
            glue=0
        fi
    done
    local n=${#words[@]}
    local cur=${words[n - 1]}
    unset "words[$((n - 1))]"
    if [[ $cur == --*=* ]]; then
        words+=("${cur%%=*}")
        cur=${cur#*=}
    fi
    # What bash replaces is the part after the last break character.
    local bcur=${COMP_WORDS[COMP_CWORD]} lead=''
    [[ $bcur == ':' || $bcur == '=' ]] && bcur=''
    [[ $cur == *"$bcur" ]] && lead=${cur%"$bcur"}

    _loop_bin_of "${COMP_WORDS[0]}"
    _loop_parse "${words[@]}"
    _loop_decide "$cur"
    COMPREPLY=()
    case $_loop_kind in
    words) mapfile -t COMPREPLY < <(compgen -W "$_loop_words" -- "$cur") ;;
    claims | sessions | logs)
        mapfile -t COMPREPLY < <(compgen -W "$(_loop_live "$_loop_kind")" -- "$cur")
        ;;
    dirs)
        compopt -o filenames 2>/dev/null || true
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        ;;
    files)
        compopt -o filenames 2>/dev/null || true
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        ;;
    playbook)
        compopt -o filenames 2>/dev/null || true
        mapfile -t COMPREPLY < <(
            compgen -f -X '!*.json' -- "$cur"
            compgen -d -- "$cur"
        )
        ;;
    command)
        # The command of `loop _ with NAME... -- COMMAND ARG...`.
        if declare -F _command_offset >/dev/null; then
            _command_offset "${at[_loop_dd - 1]}"
            return 0
        fi
        compopt -o filenames 2>/dev/null || true
        if [[ ${#words[@]} -eq $((_loop_dd - 1)) ]]; then
            mapfile -t COMPREPLY < <(compgen -c -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        fi
        return 0
        ;;
    esac
    if [[ -n $lead ]]; then
        COMPREPLY=("${COMPREPLY[@]#"$lead"}")
    fi
    return 0
}

complete -F _loop loop
)sh";

const char* const kZsh = R"sh(#compdef loop
# zsh completion for loop
#
#   source <(loop completion zsh)           # in ~/.zshrc, after compinit, or:
#   loop completion zsh > "${fpath[1]}/_loop"
)sh";

const char* const kZshDriver = R"sh(
_loop() {
    # Runs under the completion system's own options (_comp_options).
    local _loop_r _loop_path _loop_npos _loop_want _loop_dd _loop_home
    local _loop_kind _loop_words _loop_bin cur=$PREFIX
    local -a before found
    before=("${(@)words[2,CURRENT-1]}")
    if [[ $cur == --*=* ]]; then
        before+=("${cur%%=*}")
        compset -P 1 '*='
        cur=$PREFIX
    fi
    _loop_bin_of "${words[1]}"
    _loop_parse "${before[@]}"
    _loop_decide "$cur"
    case $_loop_kind in
    words) compadd -- ${=_loop_words} ;;
    claims | sessions | logs)
        found=(${(f)"$(_loop_live $_loop_kind)"})
        (( $#found )) && compadd -- $found
        ;;
    dirs) _files -/ ;;
    files) _files ;;
    playbook) _files -g '*.json(-.)' ;;
    command)
        # The command of `loop _ with NAME... -- COMMAND ARG...`.
        shift $_loop_dd words
        (( CURRENT -= _loop_dd ))
        _normal
        ;;
    esac
}

if [[ ${zsh_eval_context[-1]:-} == loadautofunc ]]; then
    _loop "$@"
elif (( $+functions[compdef] )); then
    compdef _loop loop
else
    print -u2 "loop: the zsh completion needs compinit first: autoload -U compinit && compinit"
fi
)sh";

int run_completion(const std::string& shell) {
    if (shell.empty())
        throw Error(Exit::Usage, "completion: name a shell: loop completion bash|zsh");
    if (shell == "bash") {
        std::fputs(kBash, stdout);
        std::fputs(kCommon, stdout);
        std::fputs(kBashDriver, stdout);
    } else if (shell == "zsh") {
        std::fputs(kZsh, stdout);
        std::fputs(kCommon, stdout);
        std::fputs(kZshDriver, stdout);
    } else {
        throw Error(Exit::Usage,
                    "completion: unknown shell '" + shell + "' (expected bash or zsh)");
    }
    return std::fflush(stdout) == 0 ? 0 : static_cast<int>(Exit::Failure);
}

} // namespace

void add_completion_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* c = subcommand(app, g, "completion", "Print a completion script (bash, zsh)")) {
        auto shell = std::make_shared<std::string>();
        c->add_option("shell", *shell, "bash or zsh");
        c->callback([&action, shell] { action = [shell] { return run_completion(*shell); }; });
    }
}

} // namespace loop::cmd
