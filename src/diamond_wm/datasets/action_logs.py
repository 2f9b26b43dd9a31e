"""Action logs of gameplay videos: one row per video frame, CSV (with a header) or JSONL (one object a line).

Rows and frames: row t's action is taken on frame t and yields frame t + 1; row t's reward is what that action
earned. A row with end 1 is an episode's terminal frame: the frame the previous row's action led to, where the game
is over. It becomes the episode's final observation (Gymnasium's `final_observation`); its action is not used (it
may be empty) and its reward must be 0 or empty (the reward of the step that ended the episode belongs on the row
before). The next row starts a new episode of the same video. So the rows [a, b) of an episode that ends (row b - 1
has end 1) give the steps a .. b - 2, the last one with end 1, and the final observation frame b - 1; an episode
that the video stops in has a step per row and no end.

Columns (docs/datasets.md has examples):

- `frame` (optional): the frame index, 0, 1, 2, ... in order; or `time` (or `timestamp`, optional): seconds,
  increasing, matched against the frames' timestamps (both counted from the first one; see
  `diamond_wm.datasets.frame_matching`).
- the action, by the kind of the action spec:
  - discrete: `action`, an index in [0, n) or one of the spec's action names;
  - multi-hot: `keys`, the pressed dimensions by name (CSV: joined with `+`, e.g. `w+space+l_click`; JSONL: a
    list), and/or one column per dimension name holding 0/1; for a one-hot group (e.g. CS:GO's `mouse_x`), a
    column named after the group holding the name of its hot dimension, or a number when the dimensions are
    named `<group>=<number>` (CS:GO mouse bins): the nearest bin (clipped to the range; a tie goes to the
    lower bin). A one-hot group without a value takes its `<group>=0` dimension when there is one.
- `reward` (optional, default 0) and `end` (optional, 0/1): see above.

Any other column (or JSONL key, or name in `keys`) is an unknown key name: a `ValueError` of one line naming the
file and the line. CSV files may start with a UTF-8 byte order mark (as spreadsheets export them).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.config.actions import ActionSpec

FRAME, TIME, ACTION, KEYS, REWARD, END = "frame", "time", "action", "keys", "reward", "end"
TIMESTAMP = "timestamp"  # another name of `time`
RESERVED = (FRAME, TIME, TIMESTAMP, ACTION, KEYS, REWARD, END)
LOG_SUFFIXES = (".csv", ".jsonl")
_NUMBERED = re.compile(r"^(.+)=(-?\d+(?:\.\d+)?)$")


@dataclass
class ActionLog:
    """The rows of one log: actions (T,) int64 or (T, D) float32, rewards, end flags, optional times, and the
    line of each row in the file (for messages)."""

    path: Path
    act: torch.Tensor
    rew: torch.Tensor  # (T,) float32
    end: torch.Tensor  # (T,) uint8
    times: Optional[list[float]]  # seconds, when the log has a `time` column
    lines: list[int]

    def __len__(self) -> int:
        return len(self.lines)

    def episode_ranges(self) -> list[tuple[int, int]]:
        """Rows [start, stop) of each episode: a new one starts after every row with end 1 (that row, its terminal
        frame, is the last of its episode)."""
        cuts = [i + 1 for i in range(len(self)) if self.end[i]]
        starts = [0, *(c for c in cuts if c < len(self))]
        return list(zip(starts, [*starts[1:], len(self)], strict=True))

    def ends(self, span: tuple[int, int]) -> bool:
        """True when the episode of rows `span` ends: its last row (the terminal frame) has end 1."""
        return bool(self.end[span[1] - 1])

    def num_steps(self, span: tuple[int, int]) -> int:
        """Steps of the episode of rows `span`: one per row, but the terminal frame of an ended episode."""
        return span[1] - span[0] - int(self.ends(span))


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV or JSONL file."""
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8-sig") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise ValueError(f"{path}: line {line_no}: not a JSON object ({e})") from None
                if not isinstance(row, dict):
                    raise ValueError(
                        f"{path}: line {line_no}: expected a JSON object, found {type(row).__name__}"
                    )
                yield line_no, row
        return
    with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: a byte order mark (spreadsheet export)
        reader = csv.DictReader(f)
        for row in reader:
            if None in row:
                raise ValueError(
                    f"{path}: line {reader.line_num}: more values than the {len(reader.fieldnames)} columns"
                )
            yield reader.line_num, {k.strip(): v for k, v in row.items()}


def _flag(value: Any, where: str, name: str) -> int:
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true", "yes"):
        return 1
    if text in ("0", "0.0", "false", "no", "", "none"):
        return 0
    raise ValueError(f"{where}: {name} {value!r}: expected 0 or 1")


def _number(value: Any, where: str, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} {value!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{where}: {name} {value!r} is not finite")
    return v


class ActionEncoder:
    """One row's columns -> an action of `spec` (see the module docstring); ValueError naming `where`."""

    def __init__(self, spec: ActionSpec) -> None:
        self.spec = spec
        self.dims: dict[str, int] = {}  # dimension name (and group:name) -> index
        self.groups: dict[str, tuple[int, int, dict[float, int]]] = {}  # one-hot group -> (start, stop, bins)
        start = 0
        for g in spec.groups:
            for j, n in enumerate(g.names):
                self.dims.setdefault(n, start + j)
                self.dims[f"{g.name}:{n}"] = start + j
            if g.one_hot:
                bins = {}
                for j, n in enumerate(g.names):
                    m = _NUMBERED.match(n)
                    if m and m.group(1) == g.name:
                        bins[float(m.group(2))] = start + j
                self.groups[g.name] = (start, start + g.size, bins if len(bins) == g.size else {})
            start += g.size

    def known(self, column: str) -> bool:
        if column in RESERVED:
            return column != (KEYS if self.spec.is_discrete else ACTION)
        return not self.spec.is_discrete and (column in self.dims or column in self.groups)

    def encode(self, row: dict[str, Any], where: str) -> Any:
        if self.spec.is_discrete:
            return self._discrete(row.get(ACTION), where)
        vec = torch.zeros(self.spec.num_action_dims)
        keys = row.get(KEYS, [])
        if isinstance(keys, str):
            keys = [k.strip() for k in keys.split("+") if k.strip()]
        if not isinstance(keys, list):
            raise ValueError(f"{where}: keys {keys!r}: expected a list of names (CSV: joined with '+')")
        for k in keys:
            if str(k) not in self.dims:
                raise ValueError(f"{where}: unknown key name {str(k)!r} in keys ({self._expected()})")
            vec[self.dims[str(k)]] = 1
        for column, value in row.items():
            if column in self.dims and column not in self.groups:
                vec[self.dims[column]] = max(vec[self.dims[column]].item(), _flag(value, where, column))
        for name, (start, stop, bins) in self.groups.items():
            value = row.get(name)
            if value is None or str(value).strip() == "":
                if vec[start:stop].sum() == 0 and 0.0 in bins:
                    vec[bins[0.0]] = 1
            else:
                dim = self._group_dim(name, str(value).strip(), start, stop)
                if dim is None and bins:  # a number: the nearest `<group>=<number>` dimension
                    v = _number(value, where, name)
                    v = min(max(v, min(bins)), max(bins))
                    dim = bins[min(bins, key=lambda b: (abs(v - b), b))]  # a tie goes to the lower bin
                if dim is None:
                    raise ValueError(f"{where}: {name} {value!r} is not one of the group's dimensions")
                vec[start:stop] = 0
                vec[dim] = 1
            if vec[start:stop].sum() != 1:
                count = int(vec[start:stop].sum())
                raise ValueError(
                    f"{where}: {count} values for the one-hot group {name!r}: expected a column {name!r}"
                )
        return vec

    def _group_dim(self, group: str, text: str, start: int, stop: int) -> Optional[int]:
        """The dimension of `group` named `text` (its name alone or `group:name`), else None."""
        dim = self.dims.get(f"{group}:{text}")
        if dim is None and text in self.dims and start <= self.dims[text] < stop:
            dim = self.dims[text]
        return dim

    def has_action(self, row: dict[str, Any]) -> bool:
        """True when `row` gives an action (a terminal frame's row may leave it empty)."""
        if self.spec.is_discrete:
            return str(row.get(ACTION, "") or "").strip() != ""
        data = (v for k, v in row.items() if k not in (FRAME, TIME, TIMESTAMP, REWARD, END))
        return any(v not in (None, "", []) and str(v).strip() != "" for v in data)

    def placeholder(self) -> Any:
        """The action stored for a terminal frame's row (never used: no step is taken from that frame)."""
        return 0 if self.spec.is_discrete else torch.zeros(self.spec.num_action_dims)

    def _discrete(self, value: Any, where: str) -> int:
        if value is None or str(value).strip() == "":
            raise ValueError(f"{where}: no action (a column 'action': {self._expected_action()})")
        text = str(value).strip()
        if text in self.spec.names:
            return self.spec.names.index(text)
        try:
            index = int(float(text))
        except ValueError:
            raise ValueError(
                f"{where}: action {value!r} is neither an index nor an action name: {self._expected_action()}"
            ) from None
        if float(text) != index or not 0 <= index < self.spec.num_action_dims:
            raise ValueError(f"{where}: action {value!r}: {self._expected_action()}")
        return index

    def _expected_action(self) -> str:
        """'expected an index in [0, 4) or one of NOOP, FIRE, RIGHT, LEFT' (or why no name is accepted)."""
        n, names = self.spec.num_action_dims, self.spec.names
        if not names:
            return f"expected an index in [0, {n}) (the action spec names no action; a JSON spec can)"
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        return f"expected an index in [0, {n}) or one of {shown}"

    def _expected(self) -> str:
        names = [n for n in self.dims if ":" not in n]
        return f"expected one of {', '.join(names[:20])}{', ...' if len(names) > 20 else ''}"


def read_action_log(path: Path | str, spec: ActionSpec) -> ActionLog:
    """Every row of a log (see the module docstring); ValueError of one line naming the file and the line."""
    path = Path(path)
    encoder = ActionEncoder(spec)
    acts, rews, ends, times, lines = [], [], [], [], []
    has_time = None
    try:
        for line_no, row in _rows(path):
            where = f"{path}: line {line_no}"
            for column in row:
                if not encoder.known(column):
                    at = f"{path}: line 1" if path.suffix != ".jsonl" else where  # a CSV column: its header
                    raise ValueError(f"{at}: unknown key name {column!r} ({_column_hint(encoder)})")
            if TIMESTAMP in row:
                row[TIME] = row.pop(TIMESTAMP)
            if has_time is None:
                has_time = TIME in row
            if FRAME in row and _number(row[FRAME], where, FRAME) != len(lines):
                raise ValueError(
                    f"{where}: frame {row[FRAME]}, expected {len(lines)} (one row per frame, in order)"
                )
            if has_time:
                t = _number(row.get(TIME), where, TIME)
                if times and t <= times[-1]:
                    raise ValueError(f"{where}: time {t} after {times[-1]}: times must increase")
                times.append(t)
            end = _flag(row.get(END, 0), where, END)
            rew = _number(row.get(REWARD) or 0, where, REWARD)
            if end and rew != 0:
                raise ValueError(
                    f"{where}: reward {row.get(REWARD)!r} on a row with end 1: that row is the terminal frame, "
                    "from which no action is taken; the reward of the step that ended the episode belongs on the "
                    "row before"
                )
            terminal_without_action = end and not encoder.has_action(row)
            acts.append(encoder.placeholder() if terminal_without_action else encoder.encode(row, where))
            rews.append(rew)
            ends.append(end)
            lines.append(line_no)
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: unreadable ({e})") from None
    if not lines:
        raise ValueError(f"{path}: no row (expected one row per video frame)")
    act = torch.tensor(acts, dtype=torch.int64) if spec.is_discrete else torch.stack(acts)
    rew, end = torch.tensor(rews, dtype=torch.float32), torch.tensor(ends, dtype=torch.uint8)
    log = ActionLog(path, act, rew, end, times if has_time else None, lines)
    for span in log.episode_ranges():
        if log.num_steps(span) == 0:
            raise ValueError(
                f"{path}: line {lines[span[0]]}: end 1 on the first row of an episode: the row with end 1 is the "
                "terminal frame that a step of the episode led to, so an episode needs a row before it"
            )
    return log


def _column_hint(encoder: ActionEncoder) -> str:
    if encoder.spec.is_discrete:
        return f"expected {', '.join(c for c in RESERVED if c != KEYS)}"
    return (
        f"expected {', '.join(c for c in RESERVED if c != ACTION)}, a one-hot group or a dimension name; "
        + encoder._expected()
    )
