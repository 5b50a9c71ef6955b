"""The example in docs/testing.md (and in the README once it has the section) is test_readme_example.py, verbatim."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).with_name("test_readme_example.py")
HEADING = "## Testing your change"


def example_in(doc: Path) -> str | None:
    """The first python block after the heading, or None when the document has no such section."""
    text = doc.read_text()
    if HEADING not in text:
        return None
    block = re.search(r"```python\n(.*?)```", text.split(HEADING, 1)[1], re.S)
    assert block, f"{doc}: no ```python block after {HEADING!r}"
    return block.group(1)


def test_the_testing_guide_shows_the_example_that_runs():
    assert example_in(REPO / "docs" / "testing.md") == EXAMPLE.read_text()


def test_the_readme_shows_the_example_that_runs():
    example = example_in(REPO / "README.md")
    if example is None:
        pytest.skip(f"README.md has no {HEADING!r} section yet")
    assert example == EXAMPLE.read_text()
