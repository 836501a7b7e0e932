"""`--output table`: the AWS CLI's table layout (awscli/formatter.py TableFormatter, awscli/table.py MultiTable).

The whole table under a title row (the operation's name); an object's plain values as one header row and
one row of values (two columns, name and value, when it has one); a list of objects as a header row of
their keys (sorted) and a row each; a list of lists as rows of columns; nested objects and lists as
sections of their own, titled with their key and indented with `|`. A section of one row turns into
name/value rows when the table is wider than the terminal. Nothing at all is drawn for null, {} or [].

Two differences, on purpose: a cell stays on one line (a newline or tab in a value becomes a space), and
a width is the terminal's (wide East Asian characters two columns, combining marks none).
"""

from __future__ import annotations

import shutil
import unicodedata

PADDING = 4  # each cell: two spaces before its text, and at least two after


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: wide East Asian characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def cell(value) -> str:
    """A value as the AWS CLI writes it in a cell (str(): True, None, 1.5), on one line."""
    return str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")


class Section:
    def __init__(self, title: str = "", indent: int = 0):
        self.title, self.indent = title, indent
        self.headers: list[str] = []
        self.rows: list[list[str]] = []

    def add_header(self, headers: list) -> None:
        self.headers = [cell(h) for h in headers]

    def add_row(self, row: list) -> None:
        self.rows.append([cell(v) for v in row])

    def column_count(self) -> int:
        return max([len(self.headers)] + [len(r) for r in self.rows])

    def max_widths(self) -> list[int]:
        count = self.column_count()
        widths = [0] * count
        for row in ([self.headers] if self.headers else []) + self.rows:
            for i, text in enumerate(row):
                widths[i] = max(widths[i], display_width(text))
        return widths

    def total_width(self) -> int:
        columns = sum(w + PADDING for w in self.max_widths())
        return max(display_width(self.title) + 2 + 2 * self.indent, columns + 2 + 2 * self.indent)

    def column_widths(self, width: int) -> list[int]:
        """The columns stretched to fill `width`, in proportion to their text (the AWS CLI's rounding)."""
        unscaled = [w + PADDING for w in self.max_widths()]
        if not unscaled:
            return []
        scale = width / float(sum(unscaled))
        scaled = [int(round(scale * w)) for w in unscaled]
        off_by = sum(scaled) - width
        while off_by != 0:
            order = range(len(scaled)) if off_by > 0 else reversed(range(len(scaled)))
            for i in order:
                scaled[i] += -1 if off_by > 0 else 1
                off_by += -1 if off_by > 0 else 1
                if off_by == 0:
                    break
        return scaled


def _scalar(value) -> bool:
    return not isinstance(value, dict | list)


def _empty(value) -> bool:
    return value is None or value == {} or value == []


class TableBuilder:
    """The sections of one body, built as the AWS CLI's TableFormatter walks a response."""

    def __init__(self):
        self.sections: list[Section] = []

    @property
    def current(self) -> Section:
        if not self.sections:
            self.sections.append(Section())
        return self.sections[-1]

    def build(self, title: str | None, value, indent: int = 0, top: bool = False) -> bool:
        if _empty(value) or (not top and not value):  # nested: any falsy value is left out, as in the AWS CLI
            return False
        if title is not None:
            self.sections.append(Section(title, indent))
        if isinstance(value, list):
            if isinstance(value[0], dict):
                self._objects(value, indent, title)
            else:
                for item in value:
                    if _scalar(item):
                        self.current.add_row([item])
                    elif isinstance(item, list) and all(_scalar(v) for v in item):
                        self.current.add_row(item)  # a list of lists: one row, a column per element
                    else:
                        self.build(None, item)
        elif isinstance(value, dict):
            self._object(value, indent)
        elif top:  # a lone value (the AWS CLI draws only its title): one cell
            self.current.add_row([value])
        return True

    def _object(self, obj: dict, indent: int) -> None:
        headers = sorted(k for k, v in obj.items() if _scalar(v))
        more = sorted(k for k, v in obj.items() if not _scalar(v))
        if len(headers) == 1:
            self.current.add_row([headers[0], obj[headers[0]]])
        elif headers:
            self.current.add_header(headers)
            self.current.add_row([obj[k] for k in headers])
        for key in more:
            self.build(key, obj[key], indent + 1)

    def _objects(self, items: list, indent: int, title: str | None) -> None:
        headers = sorted({k for item in items if isinstance(item, dict) for k, v in item.items() if _scalar(v)})
        more = sorted({k for item in items if isinstance(item, dict) for k, v in item.items() if not _scalar(v)})
        self.current.add_header(headers)
        for number, item in enumerate(items):
            item = item if isinstance(item, dict) else {}
            if number and more:  # each object with nested values gets its own section, as in the AWS CLI
                self.sections.append(Section(title or "", indent))
                self.current.add_header(headers)
            self.current.add_row([item.get(h, "") for h in headers])
            for key in more:
                if key in item:
                    self.build(key, item[key], indent + 1)


def _center(text: str, width: int, left: str = "|", right: str = "|") -> str:
    start = width // 2 - display_width(text) // 2 - 1
    line = left + " " * start + text
    return line + " " * (width - len(right) - display_width(line)) + right


def _left(text: str, width: int, left: str, right: str = "|") -> str:
    padding = 2 if width - (display_width(text) + 2 + len(left) + len(right)) >= 0 else 0
    line = left + " " * padding + text
    return line + " " * (width - display_width(line) - len(right)) + right


def _rule(widths: list[int]) -> str:
    return "".join(("+" + "-" * (w - 2) + "+") if i == 0 else ("-" * (w - 1) + "+") for i, w in enumerate(widths))


def _vertical(sections: list[Section]) -> list[Section]:
    """Each section of one row with headers as name/value rows (when the table is too wide)."""
    out = []
    for section in sections:
        if len(section.rows) == 1 and section.headers:
            turned = Section(section.title, section.indent)
            for header, value in zip(section.headers, section.rows[0], strict=False):
                turned.rows.append([header, value])
            section = turned
        out.append(section)
    return out


def render(sections: list[Section], terminal_width: int) -> list[str]:
    width = max(s.total_width() for s in sections)
    if width > terminal_width:
        sections = _vertical(sections)
        width = max(s.total_width() for s in sections)
    lines = ["-" * width]
    for section in sections:
        edge = "|" * section.indent
        inner = width - 2 * section.indent
        out = []
        if section.title:
            out.append(_center(section.title, inner))
            if not section.headers and not section.rows:
                out.append("+" + "-" * (inner - 2) + "+")
        widths = section.column_widths(inner)
        if section.headers:
            out.append(_rule(widths))
            out.append("".join(_center(h, w, "|" if i == 0 else "") for i, (h, w) in enumerate(zip(
                section.headers, widths, strict=False))))
        if section.rows and widths:
            out.append(_rule(widths))
            for row in section.rows:
                row = row + [""] * (len(widths) - len(row))
                out.append("".join(_left(text, w, "|" if i == 0 else "") for i, (text, w) in enumerate(zip(
                    row, widths, strict=True))))
            out.append(_rule(widths))
        lines += [edge + line + edge for line in out]
    return lines


def as_table(value, title: str | None = None, terminal_width: int | None = None) -> str:
    """The table of one emitted body ('' for null, {} and []: the AWS CLI draws nothing)."""
    builder = TableBuilder()
    if not builder.build(title or "", value, top=True):
        return ""
    width = terminal_width or shutil.get_terminal_size((80, 24)).columns
    return "".join(line + "\n" for line in render(builder.sections, width))
