"""The local runner: `jobs-connector list | describe | run | watch | sandbox | serve | events | ipaas | docs |
completion`.

Each emitted message body is one JSON line on stdout; errors and progress go to stderr.
Exit codes: 0 ok, 2 bad input or configuration (nothing sent), 3 the service rejected the request,
4 a retryable failure after the last attempt, or the network.

Each command imports what it needs when it runs, so `list`, `describe` and `--help` start without the HTTP
stack or a validator, and `run` without what only `describe` shows (tests/integration/test_lazy_loading.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from jobs_connector.base.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, BadInput, ConnectorError
from jobs_connector.cli import startup
from jobs_connector.cli.batch import add_arguments as batch_arguments

EXIT_USAGE = EXIT_BAD_INPUT  # as for bad input: nothing was attempted

# Subcommands that live in their own modules, imported only when used (keeps `run` fast).
# Each module has add_arguments(parser) and main(args) -> int; names are relative to this package.
EXTENSIONS = {
    "sandbox": (".sandbox", "run the local emulator of all five APIs on 127.0.0.1"),
    "serve": (".serve", "serve webhook-triggered flows"),
    "events": (".events", "list, retry or purge webhook events"),
    "ipaas": (".ipaas", "run as an integration-platform step (elastic.io sailor protocol)"),
    "docs": (".docs", "write docs/actions.md from component.json and the schemas"),
    "watch": (".watch", "run a polling trigger: one JSON line per new item, its snapshot in a state file"),
    "completion": (".completion", "print a bash or zsh completion script: source <(jobs-connector completion bash)"),
}


def _read_json_arg(value: str, what: str):
    """JSON given inline, as @file, or as - for standard input (bounded, strict: lib/cli/user_json.py)."""
    from jobs_connector.cli.user_json import read_json_argument

    return read_json_argument(value, what)


def _config(args) -> dict:
    cfg = _read_json_arg(args.config, "config") if args.config else {}
    if not isinstance(cfg, dict):
        raise BadInput("config must be a JSON object", field="config", rule="type")
    from jobs_connector.cli.config_keys import check_config_keys

    check_config_keys(cfg)  # a misspelt key would be ignored: refused, with the key it resembles
    for name in ("region", "endpoint", "profile"):
        value = getattr(args, name)
        if value:
            cfg[name] = value
    if args.emit:
        cfg["emitBehaviour"] = args.emit
    if args.max_pages is not None:
        cfg["maxPages"] = args.max_pages
    if args.timeout:
        from jobs_connector.http.timeouts import parse_cli_timeout

        cfg.update(parse_cli_timeout(args.timeout))
    return cfg


class Progress:
    """Progress of a listing of many pages on stderr: a line per page from the second on (redrawn in
    place on a terminal), and a notice when the page limit stopped it early."""

    def __init__(self, stream):
        self.stream = stream
        self.tty = stream.isatty()
        self.open_line = False  # a terminal line redrawn with '\r' that output must not overwrite

    def __call__(self, page: int, items: int) -> None:
        if page > 1:
            print(f"fetched page {page} ({items} items so far)", end="\r" if self.tty else "\n",
                  file=self.stream, flush=True)
            self.open_line = self.tty

    def page_limit(self, pages: int) -> None:
        self.close_line()
        print(f"stopped after {pages} page{'s' if pages != 1 else ''} (the page limit, --max-pages); "
              "more remain", file=self.stream, flush=True)

    def close_line(self) -> None:
        if self.open_line:
            print(file=self.stream, flush=True)
            self.open_line = False


def cmd_list(args) -> int:
    from jobs_connector.component.registry import component

    actions, triggers = component()["actions"], component().get("triggers", {})
    if args.json:  # the actions, as always (scripts read entry["action"]); --triggers: the triggers
        kind, entries = ("trigger", triggers) if args.triggers else ("action", actions)
        print(json.dumps([{kind: k, "title": v.get("title"), "deprecated": v.get("deprecated")}
                          for k, v in entries.items()]))
        return 0
    width = max(map(len, [*actions, *triggers]))
    for key, entry in actions.items():
        flag = "  [deprecated]" if entry.get("deprecated") else ""
        print(f"{key:<{width}}  {entry.get('title', '')}{flag}")
    if triggers:
        print("\nPolling triggers (jobs-connector watch TRIGGER; describe TRIGGER for its config):")
        for key, entry in triggers.items():
            flag = "  [deprecated]" if entry.get("deprecated") else ""
            print(f"{key:<{width}}  {entry.get('title', '')}{flag}")
    return 0


def cmd_describe(args) -> int:
    from jobs_connector.cli import describe
    from jobs_connector.component.registry import component, get_action

    if args.action in component().get("triggers", {}) and args.action not in component()["actions"]:
        from jobs_connector.triggers.trigger import get_trigger

        trigger = get_trigger(args.action)
        if args.skeleton:
            raise BadInput(f"{args.action} is a trigger: its config is shown by `describe {args.action}`; "
                           "--skeleton is for actions", field="--skeleton", rule="action-only")
        print(json.dumps(describe.trigger_summary(trigger), indent=2) if args.json
              else describe.render_trigger(trigger))
        return 0
    action = get_action(args.action)
    if args.skeleton:
        from jobs_connector.cli import skeleton

        print(skeleton.render(action))
        return 0
    print(json.dumps(describe.summary(action), indent=2) if args.json else describe.render(action))
    return 0


def cmd_run(args) -> int:
    from jobs_connector.cli import aws_habits
    from jobs_connector.cli.hints import paging_flag_warnings
    from jobs_connector.cli.output import compile_query, formatter
    from jobs_connector.component.registry import get_action
    from jobs_connector.runtime import Runtime

    startup.resume()  # every module of a call is loaded
    aws_habits.apply(args)  # --cli-input-json, --no-paginate: as run's own flags
    if args.generate_cli_skeleton:
        return aws_habits.print_skeleton(args)
    operation = args.action.split(".", 1)[-1]  # a table's title, as the AWS CLI's
    query, show = compile_query(args.query), formatter(args.output, operation)
    if args.each or args.concurrency != 1:  # batch mode: lib/cli/batch.py
        from jobs_connector.cli import batch

        return batch.main(args, _config(args), query)
    body = _read_json_arg(args.input, "input")
    cfg = _config(args)
    for warning in paging_flag_warnings(get_action(args.action), args.emit, args.max_pages):
        print(warning, file=sys.stderr)
    runtime = Runtime()
    if args.dry_run:
        print(json.dumps(runtime.dry_run(args.action, body, cfg), indent=2))
        return 0
    trace = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    out = sys.stdout
    progress = Progress(sys.stderr)

    def warn(text: str) -> None:  # the answer is still emitted: drift is the service's word, not a failure
        progress.close_line()
        print(f"warning: {text}", file=sys.stderr, flush=True)

    try:
        for message in runtime.run(args.action, body, cfg, trace=trace, progress=progress,
                                   page_limit=progress.page_limit, warn=warn):
            progress.close_line()
            text = show(query(message))
            if not text and args.query:  # a table of nothing draws nothing, as in the AWS CLI: say why
                print(f"note: --query {args.query!r} gives nothing (null or empty) for this answer",
                      file=sys.stderr, flush=True)
            out.write(text)
            out.flush()
    finally:
        progress.close_line()
    return 0


class VersionAction(argparse.Action):
    """--version: the installed package's version, else jobs_connector.__version__ (a checkout without package
    metadata).
    Looked up only when asked: importlib.metadata is not cheap to import."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from jobs_connector.base.extras import version

        print(f"jobs-connector {version()}")
        parser.exit()


def _aws_arguments(parser) -> None:
    from jobs_connector.cli.aws_habits import add_arguments

    add_arguments(parser)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command tree; for `command` "run", only the run subcommand's (the cold path of a call
    need not build the others)."""
    parser = argparse.ArgumentParser(prog="jobs-connector", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    others = command != "run"

    if others:
        p = sub.add_parser("list", help="list the actions and the polling triggers")
        p.add_argument("--json", action="store_true", help="as JSON: the actions (with --triggers: the triggers)")
        p.add_argument("--triggers", action="store_true", help="with --json: list the triggers")
        p.set_defaults(func=cmd_list)

        p = sub.add_parser("describe", help="an action's inputs, outputs and an example (or a trigger's config)")
        p.add_argument("action", metavar="ACTION|TRIGGER")
        p.add_argument("--json", action="store_true", help="as JSON")
        p.add_argument("--skeleton", action="store_true",
                       help="print an input with every field and a placeholder, ready to fill (valid JSON)")
        p.set_defaults(func=cmd_describe)

    p = sub.add_parser("run", help="run an action; each emitted message body is one JSON line on stdout")
    p.add_argument("action")
    p.add_argument("--input", "-i", default="{}", help="the message body: JSON, @file or - for stdin")
    p.add_argument("--config", "-c", help="step config (credentials, endpoints): JSON, @file or -")
    p.add_argument("--region", help="AWS region (else AWS_REGION / AWS_DEFAULT_REGION / the profile)")
    p.add_argument("--endpoint", "--endpoint-url", dest="endpoint",
                   help="AWS endpoint override (else AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL)")
    p.add_argument("--profile", help="AWS profile (else AWS_PROFILE)")
    p.add_argument("--emit", choices=("fetchAll", "fetchPage", "emitIndividually"),
                   help="list actions: all pages in one message (default), one page, or one message per item")
    p.add_argument("--max-pages", type=int, help="list actions: stop after this many pages (default 100)")
    p.add_argument("--timeout", metavar="[CONNECT,]READ",
                   help="seconds to wait for a connection and for the answer (default 5,30; longer for waiting "
                        "actions such as embedthis.WaitForTemplate)")
    p.add_argument("--verbose", "-v", "--debug", dest="verbose", action="store_true",
                   help="log requests and answers on stderr, secrets redacted")
    p.add_argument("--dry-run", action="store_true", help="print the signed request, secrets redacted; send nothing")
    p.add_argument("--query", "-q", metavar="EXPR", help="a JMESPath expression applied to each emitted body")
    p.add_argument("--output", "-o", choices=("json", "table", "text"), default="json",
                   help="json lines (default), a table, or the AWS CLI's tab-separated text")
    batch_arguments(p)
    _aws_arguments(p)
    p.set_defaults(func=cmd_run)

    for name, (module, help_text) in EXTENSIONS.items() if others else ():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=None, extension=module)
    return parser


def _run_extension(module_name: str, name: str, argv: list[str]) -> int:
    import importlib

    try:
        module = importlib.import_module(module_name, __package__)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("jobs_connector."):  # a part of ours this build leaves out
            print(f"error: '{name}' is not available in this build", file=sys.stderr)
            return EXIT_INTERNAL
        return _missing_extra(exc, name)
    startup.resume()  # the subcommand's modules are loaded
    parser = argparse.ArgumentParser(prog=f"jobs-connector {name}")
    module.add_arguments(parser)
    try:
        return module.main(parser.parse_args(argv))
    except ModuleNotFoundError as exc:  # a part the subcommand imports only when it needs it
        return _missing_extra(exc, name)


def _missing_extra(exc: ModuleNotFoundError, name: str) -> int:
    from jobs_connector.base.extras import missing_extra

    hint = missing_extra(exc, f"'jobs-connector {name}'")
    if hint is None:
        raise exc
    print(f"error: {hint}", file=sys.stderr)
    return EXIT_USAGE


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """parse_args, but an unknown flag is refused with its subcommand's usage (not the top level's) and the
    flag it resembles."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        target = subparsers.choices.get(getattr(args, "command", None), parser)
        import difflib

        flags = [o for action in target._actions for o in action.option_strings if o.startswith("--")]
        close = difflib.get_close_matches(extra[0].split("=", 1)[0], flags, n=1, cutoff=0.6)
        target.error(f"unrecognized arguments: {' '.join(extra)}" + (f" (did you mean {close[0]}?)" if close else ""))
    return args


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the process's own command line: start up without the collector (lib/cli/startup.py)
        startup.pause()
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in EXTENSIONS:
        # Handed over untouched: argparse's REMAINDER drops options that come first ('sandbox --port 0').
        args = argparse.Namespace(func=None, extension=EXTENSIONS[argv[0]][0], command=argv[0], rest=argv[1:])
    else:
        args = _parse(build_parser(argv[0] if argv else None), argv)
    if args.func not in (cmd_run, None):  # those two resume it once they have loaded what they need
        startup.resume()
    try:
        if args.func is None:
            return _run_extension(args.extension, args.command, args.rest)
        return args.func(args)
    except ConnectorError as exc:
        logs = sys.modules.get("jobs_connector.base.logs")  # serve, ipaas and watch may log JSON lines
        if logs is not None and logs.is_json():
            logs.say(f"error: {exc.describe()}", level=40, field=getattr(exc, "field", None),
                     rule=getattr(exc, "rule", None), request_id=exc.request_id)
            return exc.exit_code
        print(f"error: {exc.describe()}", file=sys.stderr)
        if isinstance(exc, BadInput) and exc.field:
            print(f"field: {exc.field}  rule: {exc.rule}", file=sys.stderr)
        from jobs_connector.cli.hints import hint_for

        if hint_for(exc):
            print(f"hint: {hint_for(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so briefly; the traceback only on request
        if os.environ.get("JOBS_CONNECTOR_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__} (set JOBS_CONNECTOR_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
