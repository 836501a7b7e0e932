"""Every relative link in the README and docs/ points at a file that exists (and, with #anchor, at a heading
of that file): the manual is split over several pages, and a moved section must not leave a dead link."""

import os
import re

import pytest

from jobs_connector.component.registry import ROOT

PAGES = ["README.md"] + [os.path.join("docs", name) for name in sorted(os.listdir(os.path.join(ROOT, "docs")))
                         if name.endswith(".md")]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: str) -> set[str]:
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    heads = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in heads}


def _relative_links(page: str):
    text = open(os.path.join(ROOT, page), encoding="utf-8").read()
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    for target in LINK.findall(text):
        if not re.match(r"^[a-z]+:", target):
            yield target


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page):
    base = os.path.dirname(os.path.join(ROOT, page))
    broken = []
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        file = os.path.normpath(os.path.join(base, path)) if path else os.path.join(ROOT, page)
        if not os.path.exists(file):
            broken.append(f"{target} (no such file)")
        elif anchor and file.endswith(".md") and anchor not in _anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page}: " + ", ".join(broken)


def test_the_readme_links_every_page_of_the_manual():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    missing = [page for page in PAGES[1:] if f"]({page})" not in readme]
    assert not missing, f"the README's contents do not link {missing}"
