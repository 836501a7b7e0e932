"""The system programs the suite runs beside Python (README: "Run the tests"), and what is missing of them.

Tests that need a missing one skip (or fail under CI); the session says at its start which ones are
missing and the apt-get line that installs them, so a skipped part is never a surprise.
"""

from __future__ import annotations

import os
import shutil

# program -> (the Debian package that has it, what needs it, other places it is installed)
PROGRAMS = {
    "redis-server": ("redis-server", "the Redis queue tests of serve", ()),
    "rabbitmq-server": ("rabbitmq-server", "the integration-platform runner's broker tests",
                        ("/usr/lib/rabbitmq/bin/rabbitmq-server",)),
    "node": ("nodejs", "the Node sailor reference", ()),
    "npm": ("npm", "installing the Node sailor (an npm download into the user's cache, once)", ()),
    "openssl": ("openssl", "the platform message crypto reference", ()),
    "chromium": ("chromium", "the console's browser test", ()),
    "chromedriver": ("chromium-driver", "the console's browser test (Selenium drives chromium through it)", ()),
    "ip": ("iproute2", "the multi-host fault tests' test hosts (network namespaces; as root)", ()),
}


def missing() -> dict[str, tuple[str, str]]:
    """program -> (package, what needs it), for each program this machine does not have."""
    out = {}
    for program, (package, need, places) in PROGRAMS.items():
        if shutil.which(program) or any(os.access(place, os.X_OK) for place in places):
            continue
        out[program] = (package, need)
    return out


def report(absent: dict[str, tuple[str, str]]) -> list[str]:
    if not absent:
        return []
    packages = " ".join(dict.fromkeys(package for package, _ in absent.values()))
    return ([f"missing system programs (their tests skip): {', '.join(absent)}"]
            + [f"  {program}: {need}" for program, (_, need) in absent.items()]
            + [f"  install them with: apt-get install -y {packages}"])
