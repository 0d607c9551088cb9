"""The README and docs/ say what the code does: exit codes, the tree, the documents cited."""

from __future__ import annotations

import re

from builder import errors
from tests.paths import REPO

README = (REPO / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    nxt = README.find("\n### ", start + len(title))
    return README[start : min(x for x in (end, nxt, len(README)) if x > 0)]


def test_readme_exit_codes_are_the_codes_table() -> None:
    text = " ".join(_section("### Exit codes").removeprefix("### Exit codes").split())
    for code, meaning in errors.EXIT_CODES.items():
        assert f"{code} {meaning}" in text, (code, meaning)
    listed = {int(n) for n in re.findall(r"(?:^|· )(\d+) ", text)}
    assert listed == set(errors.EXIT_CODES), listed


def test_every_error_maps_to_a_listed_exit_code() -> None:
    def subclasses(cls: type[errors.DlenvError]) -> list[type[errors.DlenvError]]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    for cls in subclasses(errors.DlenvError):
        assert cls.exit_code in errors.EXIT_CODES, cls
    assert errors.Interrupted.exit_code in errors.EXIT_CODES


def test_the_architecture_table_names_every_subpackage() -> None:
    table = _section("## Architecture")
    packages = sorted(p.name for p in (REPO / "builder").iterdir() if (p / "__init__.py").is_file())
    for package in packages:
        assert f"`{package}/`" in table, package


def test_documents_the_code_cites_exist() -> None:
    cited = set()
    for path in [*(REPO / "builder").rglob("*.py"), *(REPO / "templates").rglob("*.j2")]:
        cited |= set(re.findall(r"docs/[a-z0-9-]+\.md", path.read_text()))
    assert cited, "the code cites its design notes"
    missing = [doc for doc in sorted(cited) if not (REPO / doc).is_file()]
    assert not missing, missing
    assert not any("DESIGN.md" in p.read_text() for p in (REPO / "builder").rglob("*.py"))
