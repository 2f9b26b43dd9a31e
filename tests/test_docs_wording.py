"""The project's text says what is true now: no numbered tracker entries, work sessions or rounds (git log keeps those).

Searches the docs, the README, the package (code, configs) and the tests. The patterns are built by concatenation
so that this file does not match them itself.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

SUFFIXES = {".md", ".py", ".yaml", ".yml", ".txt", ".toml", ".cfg", ".json"}

_NUM = r" ?#?\d+\b"
HISTORY = re.compile(
    "|".join(
        [
            r"\b" + "iss" + "ue" + _NUM,  # a numbered tracker entry
            r"\(" + "iss" + r"ue\b",  # a parenthesised reference in a heading or a sentence
            r"\b" + "iss" + r"ue's goal",
            r"\b" + "tic" + r"ket\b",
            r"\b" + "sess" + r"ions?[ -]?\d+\b",  # a numbered work session
            r"\b" + "sess" + r"ion-start\b",
            r"\b" + "rou" + r"nd \d+\b",  # a numbered round of work
            r"\b" + "wa" + r"ve \d+\b",
        ]
    ),
    re.IGNORECASE,
)

# Lines that may match: (path relative to the repository root, a substring of the line). A link to an upstream
# project's tracker, for instance, names its number legitimately; add it here with the words that identify it.
ALLOWED: set[tuple[str, str]] = set()


def text_files() -> list[Path]:
    files = [REPO_ROOT / "README.md"]
    for top in ("docs", "src", "tests"):
        files += [p for p in sorted((REPO_ROOT / top).rglob("*")) if p.is_file() and p.suffix in SUFFIXES]
    return [p for p in files if p.exists() and "__pycache__" not in p.parts]


def allowed(rel: str, line: str) -> bool:
    return any(rel == path and part in line for path, part in ALLOWED)


def history_lines(files: list[Path]) -> list[str]:
    """'path:line: text' for every line that names a tracker entry, a work session or a round of work."""
    hits = []
    for path in files:
        rel = path.relative_to(REPO_ROOT).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if HISTORY.search(line) and not allowed(rel, line):
                hits.append(f"{rel}:{n}: {line.strip()}")
    return hits


def test_no_history_references_in_the_text() -> None:
    files = text_files()
    assert any(p.name == "benchmarks.md" for p in files)  # the search reaches the docs
    hits = history_lines(files)
    assert not hits, "say what is true now (git log keeps the history):\n" + "\n".join(hits)


def test_the_patterns_catch_history_and_spare_ordinary_words() -> None:
    word = "iss" + "ue"
    caught = [
        f"## CS:GO play step ({word} 15)",
        f"The goal of {word} #16: at least half",
        "sess" + "ion 5 measured it",
        "over sess" + "ions 2 and 3",
        "the sess" + "ion-4 restructuring",
        "Tried in rou" + "nd 3",
        "see the tic" + "ket",
    ]
    spared = [
        "a seeded play session shows the same frames",
        "--rounds 8 --calls 5",
        "round(x, 3)",
        f"the {word} of thread counts",
        "https://github.com/eloialonso/diamond/issues",
    ]
    assert all(HISTORY.search(line) for line in caught), [s for s in caught if not HISTORY.search(s)]
    assert not any(HISTORY.search(line) for line in spared), [s for s in spared if HISTORY.search(s)]
