"""What the CLI adds to an error or a run so a person knows what to do next: the flag that fixes a missing
setting, and a warning when a flag cannot have an effect. The messages themselves stay in the modules that
raise them (they also reach the platform and webhook flows, which have no flags)."""

from __future__ import annotations

from jobs_connector.base.errors import ConnectorError

# The field a ConfigurationError names -> the command-line way to give it.
_FLAG_HINTS = {
    "region": "on the command line: --region eu-central-1 (as the AWS CLI's --region)",
    "profile": "on the command line: --profile NAME picks another profile",
}


def hint_for(error: ConnectorError) -> str | None:
    return _FLAG_HINTS.get(getattr(error, "field", None) or "")


def paging_flag_warnings(action, emit: str | None, max_pages: int | None) -> list[str]:
    """--emit and --max-pages only steer list actions; on another action they would be silently ignored."""
    if action.spec("PAGING"):
        return []
    given = [flag for flag, value in (("--emit", emit), ("--max-pages", max_pages)) if value is not None]
    return [f"warning: {flag} has no effect: {action.key} does not page (it answers with one message)"
            for flag in given]
