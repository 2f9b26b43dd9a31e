"""Action logs of gameplay videos: one row per video frame, CSV (with a header) or JSONL (one object a line).

Columns (docs/datasets.md has examples):

- `frame` (optional): the frame index, 0, 1, 2, ... in order; or `time` (or `timestamp`, optional): seconds,
  increasing, matched against the frames' timestamps (both counted from the first one) within half a frame.
- the action, by the kind of the action spec:
  - discrete: `action`, an index in [0, n) or one of the spec's action names;
  - multi-hot: `keys`, the pressed dimensions by name (CSV: joined with `+`, e.g. `w+space+l_click`; JSONL: a
    list), and/or one column per dimension name holding 0/1; for a one-hot group (e.g. CS:GO's `mouse_x`), a
    column named after the group holding the name of its hot dimension, or a number when the dimensions are
    named `<group>=<number>` (CS:GO mouse bins): the nearest bin (clipped to the range; a tie goes to the
    lower bin). A one-hot group without a value takes its `<group>=0` dimension when there is one.
- `reward` (optional, default 0) and `end` (optional, 0/1): the episode ends at a row with end 1 (the next row
  starts a new episode of the same video).

Any other column (or JSONL key, or name in `keys`) is an unknown key name: a `ValueError` of one line naming the
file and the line.
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
        """[start, stop) of each episode: a new one starts after every row with end 1."""
        cuts = [i + 1 for i in range(len(self)) if self.end[i]]
        starts = [0, *(c for c in cuts if c < len(self))]
        return list(zip(starts, [*starts[1:], len(self)], strict=True))


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV or JSONL file."""
    if path.suffix == ".jsonl":
        with path.open() as f:
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
    with path.open(newline="") as f:
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

    def _discrete(self, value: Any, where: str) -> int:
        if value is None or str(value).strip() == "":
            raise ValueError(f"{where}: no action (expected a column 'action': an index or an action name)")
        text = str(value).strip()
        if text in self.spec.names:
            return self.spec.names.index(text)
        try:
            index = int(float(text))
        except ValueError:
            raise ValueError(f"{where}: action {value!r} is neither an index nor an action name") from None
        if float(text) != index or not 0 <= index < self.spec.num_action_dims:
            raise ValueError(
                f"{where}: action {value!r}: expected an index in [0, {self.spec.num_action_dims})"
            )
        return index

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
            acts.append(encoder.encode(row, where))
            rews.append(_number(row.get(REWARD) or 0, where, REWARD))
            ends.append(_flag(row.get(END, 0), where, END))
            lines.append(line_no)
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: unreadable ({e})") from None
    if not lines:
        raise ValueError(f"{path}: no row (expected one row per video frame)")
    act = torch.tensor(acts, dtype=torch.int64) if spec.is_discrete else torch.stack(acts)
    rew, end = torch.tensor(rews, dtype=torch.float32), torch.tensor(ends, dtype=torch.uint8)
    return ActionLog(path, act, rew, end, times if has_time else None, lines)


def _column_hint(encoder: ActionEncoder) -> str:
    if encoder.spec.is_discrete:
        return f"expected {', '.join(c for c in RESERVED if c != KEYS)}"
    return (
        f"expected {', '.join(c for c in RESERVED if c != ACTION)}, a one-hot group or a dimension name; "
        + encoder._expected()
    )
