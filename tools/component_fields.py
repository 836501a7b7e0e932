"""Write the step fields into component.json: emit behaviour for every list action (module with PAGING), and
the select lists (lib/sailor/fields.py SELECTS_BY_ACTION).

    python tools/component_fields.py           # update component.json in place
    python tools/component_fields.py --check   # exit 1 if component.json is not up to date

Run it after adding or changing list actions; tests/unit/test_component_platform.py fails until it is run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from jobs_connector.component.registry import COMPONENT_FILE, component  # noqa: E402
from jobs_connector.sailor.fields import paging_action_keys, with_step_fields  # noqa: E402


def rendered() -> str:
    return json.dumps(with_step_fields(component(), paging_action_keys()), indent=2, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether component.json is up to date")
    args = parser.parse_args(argv)
    text = rendered()
    with open(COMPONENT_FILE, encoding="utf-8") as fh:
        current = fh.read()
    if args.check:
        if current != text:
            print("component.json: the step fields are not up to date; "
                  "run python tools/component_fields.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        with open(COMPONENT_FILE, "w", encoding="utf-8") as fh:
            fh.write(text)
        print("component.json updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
