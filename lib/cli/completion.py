"""Shell completion: `jobs-connector completion bash|zsh` prints a script to source; on each TAB the script asks
`jobs-connector completion --complete` (the line and cursor in COMP_LINE / COMP_POINT) for candidates.

Candidates come from the CLI's own argparse parser (commands, flags, flag choices) and from component.json
(action keys, input field names), so nothing is listed twice and new actions complete without a new script.
After `--input` an empty word completes to a JSON object of the action's required fields, and a word
inside an open JSON object (`'{"th`) completes the field names not used yet (in bash; zsh offers nothing
inside an open quote).

It runs on every TAB: each answer imports only what it needs (the registry, the skeleton, the parser).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from jobs_connector.cli.main import EXTENSIONS

SHELLS = ("bash", "zsh")

_BASH = r"""# jobs-connector completion for bash: source it, e.g. from ~/.bashrc:
#   source <(jobs-connector completion bash)
_jobs_connector_complete() {
    local IFS=$'\n'
    COMPREPLY=($(COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" \
        "${COMP_WORDS[0]}" completion --complete bash 2>/dev/null))
}
complete -o nospace -o default -F _jobs_connector_complete jobs-connector
"""

_ZSH = r"""#compdef jobs-connector
# jobs-connector completion for zsh: source it after compinit, e.g. from ~/.zshrc:
#   source <(jobs-connector completion zsh)
_jobs_connector() {
    local -a candidates
    candidates=("${(@f)$(COMP_LINE="$BUFFER" COMP_POINT="$CURSOR" \
        "${words[1]}" completion --complete zsh 2>/dev/null)}")
    [[ -n "${candidates[*]}" ]] || return 1
    compadd -Q -S '' -- "${candidates[@]}"
}
compdef _jobs_connector jobs-connector
"""


def script(shell: str) -> str:
    return {"bash": _BASH, "zsh": _ZSH}[shell]


# -- reading the line ------------------------------------------------------------------------------------

def split_line(line: str) -> tuple[list[str], str, str]:
    """(finished words, the word being typed with quotes removed, the quote it opened with or '').

    Like the shell's own splitting, tolerant of a quote left open at the cursor."""
    words: list[str] = []
    current, quote, opening, in_word = "", "", "", False
    for char in line:
        if quote:
            if char == quote:
                quote = ""
            else:
                current += char
        elif char in "'\"":
            if not in_word:
                opening = char
            quote, in_word = char, True
        elif char.isspace():
            if in_word:
                words.append(current)
            current, opening, in_word = "", "", False
        else:
            current += char
            in_word = True
    return words, current, opening if quote else ""


# -- what may come next ------------------------------------------------------------------------------------

def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps no public list of subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def _input_candidates(action_key: str | None, typed: str) -> list[str]:
    """Field names of the action's input: a JSON object of the required ones for an empty word, else the
    unused top-level names after an open `{"` or `, "`."""
    from jobs_connector.base.errors import BadInput
    from jobs_connector.component.registry import get_action

    if not action_key:
        return []
    try:
        action = get_action(action_key)
    except BadInput:
        return []
    from jobs_connector.cli.skeleton import skeleton

    schema, filled = action.in_schema, skeleton(action)  # placeholders within each field's rules
    if typed == "":
        required = {name: filled[name] for name in schema.get("required", []) if name in filled}
        return [json.dumps(required)]  # quoted by the caller when no quote is open
    match = re.search(r'(?:^\{|,)\s*"([^"]*)$', typed)
    if not match:
        return []
    used = set(re.findall(r'"([^"]+)"\s*:', typed))
    stem = typed[: match.start(1)]
    properties = schema.get("properties") or {}
    names = [name for name in properties if name.startswith(match.group(1)) and name not in used]
    if len(names) == 1:
        # A lone match would make readline close the open quote behind it (no complete/compopt option stops
        # that), ending the JSON text; a second candidate, the field with its placeholder, keeps it open.
        name = names[0]
        return [f'{stem}{name}": ', f'{stem}{name}": {json.dumps(filled.get(name, ""))}']
    return [f'{stem}{name}": ' for name in names]


def candidates(line: str, parser: argparse.ArgumentParser) -> tuple[list[str], bool]:
    """(the candidates for the word at the end of `line`, whether a finished candidate takes a space)."""
    from jobs_connector.component.registry import action_keys

    words, typed, opening = split_line(line)
    words = words[1:]  # the program name
    commands = _subcommands(parser)
    if not words:
        options = [o for o in _flags(parser) if typed.startswith("-")]
        return [c for c in [*commands, *options] if c.startswith(typed)], True
    command = commands.get(words[0])
    if words[0] in EXTENSIONS:
        command = _extension_parser(words[0])
    if command is None or not _positionals(command) and not _flags(command):
        return [], True
    flags = _flags(command)
    previous = flags.get(words[-1]) if len(words) > 1 else None
    if previous is not None and previous.nargs != 0:
        if previous.choices:
            return [c for c in previous.choices if c.startswith(typed)], True
        if previous.dest == "input":
            action_key = next((w for w in words[1:] if w in set(action_keys())), None)
            found = _input_candidates(action_key, typed)
            if not opening:  # a JSON object typed bare would be split by the shell: quote it
                found = ["'" + c.replace("'", "'\\''") + ("'" if typed == "" else "") for c in found]
            return found, False
        return [], False  # a free value: leave it to the shell's own (file) completion
    if typed.startswith("-"):
        return [f for f in flags if f.startswith(typed)], True
    filled = _filled_positionals(words[1:], flags)
    positionals = _positionals(command)
    if filled < len(positionals):
        wanted = positionals[filled]
        if wanted.dest in ("action", "trigger"):
            from jobs_connector.component.registry import component

            triggers = list(component().get("triggers", {}))
            keys = {"action": action_keys(), "trigger": triggers}[wanted.dest]
            if words[0] == "describe":  # describe shows either
                keys = [*keys, *triggers]
            return [k for k in keys if k.startswith(typed)], True
        if wanted.choices:
            return [c for c in wanted.choices if c.startswith(typed)], True
    return [], True


def _extension_parser(name: str) -> argparse.ArgumentParser | None:
    """The real parser of a subcommand that lives in its own module (`sandbox`, `serve`, `completion`, ...)."""
    import importlib

    try:
        module = importlib.import_module(EXTENSIONS[name][0], __package__)
    except ImportError:  # not in this build
        return None
    parser = argparse.ArgumentParser(prog=f"jobs-connector {name}", add_help=False)
    module.add_arguments(parser)
    return parser


def _filled_positionals(words: list[str], flags: dict[str, argparse.Action]) -> int:
    count, skip = 0, False
    for word in words:
        if skip:
            skip = False
        elif word in flags:
            skip = flags[word].nargs != 0
        elif not word.startswith("-"):
            count += 1
    return count


def complete(shell: str, environ=os.environ) -> list[str]:
    """The lines the completion script reads, for the line and cursor the shell passed."""
    from jobs_connector.cli.main import build_parser  # the parser is the one list of commands and flags

    line = environ.get("COMP_LINE", "")
    point = environ.get("COMP_POINT", "")
    line = line[: int(point)] if point.isdigit() else line
    found, spaced = candidates(line, build_parser())
    # Both scripts insert candidates as given (bash -o nospace, zsh compadd -S ''): a finished word gets its
    # space from here. zsh picks one candidate of several in its menu, so each carries the space.
    if spaced and (len(found) == 1 or shell == "zsh"):
        return [candidate + " " for candidate in found]
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Print a shell completion script: source <(jobs-connector completion bash)"
    parser.add_argument("shell", choices=SHELLS)
    parser.add_argument("--complete", action="store_true", help=argparse.SUPPRESS)


def main(args) -> int:
    if args.complete:
        lines = complete(args.shell)
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
        return 0
    sys.stdout.write(script(args.shell))
    return 0
