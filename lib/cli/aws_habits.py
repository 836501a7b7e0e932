"""The AWS CLI's own flags on `run`, so its habits work here (docs/cli.md, "Coming from the AWS CLI").

  --cli-input-json JSON|file://PATH   the input, as --input
  --generate-cli-skeleton [input|output]   print the input skeleton (or a sample output) and send nothing
  --endpoint-url URL                  as --endpoint
  --debug                             as --verbose (requests and answers on stderr, secrets redacted)
  --no-paginate                       one page only: --emit fetchPage
  file://PATH, fileb://PATH           wherever a JSON value is read (--input, --config, --cli-input-json)
"""

from __future__ import annotations

import argparse
import sys

from jobs_connector.base.errors import BadInput

SKELETON_KINDS = ("input", "output")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that have no counterpart in run's own (--endpoint-url and --debug are aliases of its flags)."""
    parser.add_argument("--cli-input-json", metavar="JSON", help="as the AWS CLI: the input (as --input)")
    parser.add_argument("--generate-cli-skeleton", nargs="?", const="input", choices=SKELETON_KINDS,
                        help="as the AWS CLI: print the input skeleton (or with 'output' a sample output); "
                             "send nothing")
    parser.add_argument("--no-paginate", action="store_true", help="as the AWS CLI: one page only (--emit fetchPage)")


def apply(args) -> None:
    """Turn the AWS CLI's flags into run's own, refusing a pair that says two things."""
    if args.cli_input_json is not None:
        if args.input != "{}":
            raise BadInput("give the input once: --input or --cli-input-json, not both", field="input",
                           rule="conflict")
        args.input = args.cli_input_json
    if args.no_paginate:
        if args.emit not in (None, "fetchPage"):
            raise BadInput(f"--no-paginate asks for one page, --emit {args.emit} for more: give one of them",
                           field="emitBehaviour", rule="conflict")
        from jobs_connector.component.registry import get_action

        if get_action(args.action).spec("PAGING"):  # as in the AWS CLI, a no-op on an action that does not page
            args.emit = "fetchPage"


def print_skeleton(args) -> int:
    """--generate-cli-skeleton: the input skeleton (`describe --skeleton`) or a sample output, as JSON."""
    import json

    from jobs_connector.cli import skeleton
    from jobs_connector.component.registry import get_action

    action = get_action(args.action)
    if args.generate_cli_skeleton == "output":
        example = action.spec("EXAMPLE")
        value = skeleton.sample(action.out_schema, known=example if isinstance(example, dict) else None)
    else:
        value = skeleton.skeleton(action)
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    return 0
