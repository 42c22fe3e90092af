"""The validation report: every problem in a file, where it is, and what rule it broke."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Literal

__all__ = ["Problem", "ValidationReport"]

Severity = Literal["error", "warning"]


# Not frozen: a bad million-row file has hundreds of thousands of problems, and a frozen
# dataclass's __init__ costs several times as much.
@dataclass(slots=True)
class Problem:
    """One broken rule at one place.

    ``row`` is the row number a spreadsheet user sees (the header is row 1); ``None`` for
    problems with the whole file. ``value`` is the offending cell as written in the file.
    """

    rule: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    severity: Severity = "error"

    def sort_key(self) -> tuple[int, str, str]:
        return (self.row or 0, self.column or "", self.rule)


@dataclass
class ValidationReport:
    filename: str
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    sheet: str | None = None
    catalogue_version: str | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """A file is accepted whole (no errors) or rejected whole (any error)."""
        return not self.errors

    def summary(self) -> dict[str, object]:
        by_rule = Counter(p.rule for p in self.errors)
        rows_with_errors = len({p.row for p in self.errors if p.row is not None})
        return {
            "file": self.filename,
            "sheet": self.sheet,
            "valid": self.ok,
            "rows": self.rows,
            "rows_with_errors": rows_with_errors,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "errors_by_rule": dict(sorted(by_rule.items())),
            "catalogue_version": self.catalogue_version,
        }

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=Problem.sort_key)

    def to_json(self, indent: int | None = 2) -> str:
        payload = {
            "summary": self.summary(),
            "problems": [asdict(p) for p in self.sorted_problems()],
        }
        return json.dumps(payload, indent=indent, ensure_ascii=False)

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["severity", "row", "column", "value", "rule", "message"])
        for p in self.sorted_problems():
            cells = [p.severity, p.row or "", p.column or "", p.value or "", p.rule, p.message]
            writer.writerow([_inert(c) for c in cells])
        return out.getvalue()

    def to_text(self, limit: int | None = None) -> str:
        """A human-readable table, one problem a line, then the summary counts."""
        s = self.summary()
        verdict = "VALID" if self.ok else "INVALID"
        lines = [f"{self.filename}: {verdict} - {s['rows']} rows checked"]
        if self.sheet:
            lines[0] += f" (sheet {self.sheet!r})"
        problems = self.sorted_problems()
        shown = problems if limit is None else problems[:limit]
        if shown:
            header = ("severity", "row", "column", "value", "rule", "message")
            table = [header] + [
                (
                    p.severity,
                    str(p.row) if p.row is not None else "-",
                    p.column or "-",
                    _clip(p.value or "", 24),
                    p.rule,
                    p.message,
                )
                for p in shown
            ]
            widths = [max(len(r[i]) for r in table) for i in range(5)]
            for r in table:
                cells = [r[i].ljust(widths[i]) for i in range(5)]
                lines.append("  ".join([*cells, r[5]]).rstrip())
        if limit is not None and len(problems) > limit:
            lines.append(f"... and {len(problems) - limit} more (use --format json for all)")
        lines.append(
            f"{s['errors']} error(s) in {s['rows_with_errors']} row(s), {s['warnings']} warning(s)"
        )
        for rule, count in s["errors_by_rule"].items():  # type: ignore[union-attr]
            lines.append(f"  {rule}: {count}")
        return "\n".join(lines) + "\n"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: object) -> object:
    """Stop a spreadsheet treating an echoed cell as a formula (CSV injection): text that starts
    like a formula gets a leading apostrophe; plain numbers such as -5 are left alone."""
    if not isinstance(cell, str) or not cell.startswith(_FORMULA_START):
        return cell
    try:
        float(cell)
    except ValueError:
        return "'" + cell
    return cell


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
