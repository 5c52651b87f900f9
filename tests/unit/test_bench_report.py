"""BENCHMARKS.md's sections: a bench rewrites its own section and nothing else."""

from __future__ import annotations

import pytest

from bench.report import replace_section

DOCUMENT = (
    "# Benchmarks\n\n"
    "<!-- a:start -->\n## A\n\nold a\n<!-- a:end -->\n\n"
    "Prose between sections, kept.\n\n"
    "<!-- b:start -->\n## B\n\nold b\n<!-- b:end -->\n"
)


def test_a_section_is_replaced_and_everything_else_kept_byte_for_byte() -> None:
    updated = replace_section(DOCUMENT, "a", "<!-- a:start -->\n## A\n\nnew a\nsecond line\n<!-- a:end -->\n")
    assert updated == DOCUMENT.replace("old a", "new a\nsecond line")


def test_the_last_section_keeps_the_file_ending() -> None:
    assert replace_section(DOCUMENT, "b", "<!-- b:start -->\nnew b\n<!-- b:end -->") == DOCUMENT.replace(
        "## B\n\nold b\n", "new b\n")


def test_a_new_section_is_appended_or_put_first() -> None:
    text = "<!-- c:start -->\nc\n<!-- c:end -->\n"
    assert replace_section(DOCUMENT, "c", text) == DOCUMENT + "\n" + text
    first = replace_section(DOCUMENT, "c", text, first=True)
    assert first == "# Benchmarks\n\n" + text + "\n" + DOCUMENT.removeprefix("# Benchmarks\n\n")
    assert replace_section(first, "c", text, first=True) == first  # rewriting it again changes nothing


def test_an_empty_file_gets_the_title() -> None:
    text = "<!-- c:start -->\nc\n<!-- c:end -->\n"
    assert replace_section("", "c", text) == "# Benchmarks\n\n" + text
    assert replace_section("", "c", text, first=True) == "# Benchmarks\n\n" + text


def test_text_without_its_markers_or_a_file_without_the_end_marker_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with"):
        replace_section(DOCUMENT, "a", "## A\n\nno markers\n")
    with pytest.raises(ValueError, match="without"):
        replace_section("<!-- a:start -->\ncut short\n", "a", "<!-- a:start -->\nx\n<!-- a:end -->\n")
