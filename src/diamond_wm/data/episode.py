"""`Episode`: the steps of one episode, frames kept as uint8, and its file format (the published one).

Step t holds the observation `obs[t]` on which action `act[t]` was taken, and what that action produced:
`rew[t]`, `end[t]` (the episode terminated) and `trunc[t]` (it was cut, e.g. by a time limit). Only the last
step may have `end` or `trunc` set. The observation that followed the last step of an ended episode is kept
in `info["final_observation"]` (C, H, W): uint8 in RAM, float32 in [-1, 1] on disk as the published code does.

Actions are int64 indices (T,) or float32 multi-hot vectors (T, D) (`diamond_wm.config.actions`).

File format (`<id>.pt`, read with `torch.load(weights_only=True)`): a dict with `obs` uint8 (T, C, H, W),
`act` int64 (T,) or float32 (T, D), `rew` float32 (T,), `end` uint8 (T,), `trunc` uint8 (T,), `info` dict.

`EpisodeFile` reads steps [lo, hi) of such a file without loading the rest (what a segment of a disk-backed
dataset needs: its own 9 frames, not the 1000 of its episode), from the same file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.data.errors import EpisodeFileError
from diamond_wm.data.frames import to_float_frames, to_uint8_frames
from diamond_wm.data.storage import PartialReadError, TensorRecord, atomic_save_pt, load_pt, read_pt_layout
from diamond_wm.runtime.safe_load import UnreadableFileError, UnsafePickleError

log = logging.getLogger(__name__)

FIELDS = ("obs", "act", "rew", "end", "trunc")
FINAL_OBSERVATION = "final_observation"
# Episode files are written whole (atomically): a damaged one was cut or changed afterwards.
RESTORE_HINT = "restore it from a copy"


@dataclass
class Episode:
    """One episode (or the part of it collected so far). See the module docstring for the meaning of each step."""

    obs: torch.Tensor  # (T, C, H, W) uint8
    act: torch.Tensor  # (T,) int64 indices or (T, D) float32 multi-hot vectors
    rew: torch.Tensor  # (T,) float32
    end: torch.Tensor  # (T,) uint8
    trunc: torch.Tensor  # (T,) uint8
    info: dict[str, Any] = field(default_factory=dict)  # final_observation: (C, H, W) uint8

    def __post_init__(self) -> None:
        if self.obs.dtype != torch.uint8 or self.obs.ndim != 4:
            raise ValueError(
                f"obs must be uint8 (T, C, H, W), got {self.obs.dtype} of shape {tuple(self.obs.shape)}"
            )
        n = self.obs.size(0)
        if n == 0:
            raise ValueError("an episode needs at least one step, got 0")
        act = self.act
        indices = act.dtype == torch.int64 and tuple(act.shape) == (n,)
        vectors = act.dtype == torch.float32 and act.ndim == 2 and act.size(0) == n and act.size(1) >= 1
        if not (indices or vectors):
            raise ValueError(
                f"act must be int64 of shape ({n},) or float32 of shape ({n}, D), got {act.dtype} {tuple(act.shape)}"
            )
        expected = {"rew": torch.float32, "end": torch.uint8, "trunc": torch.uint8}
        for name, dtype in expected.items():
            x = getattr(self, name)
            if x.dtype != dtype or tuple(x.shape) != (n,):
                raise ValueError(f"{name} must be {dtype} of shape ({n},), got {x.dtype} {tuple(x.shape)}")
        if (self.end[:-1] | self.trunc[:-1]).any():
            raise ValueError("only the last step of an episode may have end or trunc set")
        final = self.info.get(FINAL_OBSERVATION)
        if final is not None and (final.dtype != torch.uint8 or final.shape != self.obs.shape[1:]):
            raise ValueError(
                f"info['final_observation'] must be uint8 {tuple(self.obs.shape[1:])}, "
                f"got {final.dtype} {tuple(final.shape)}"
            )

    def __len__(self) -> int:
        return self.obs.size(0)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the frames."""
        return tuple(self.obs.shape[1:])  # type: ignore[return-value]

    @property
    def is_finished(self) -> bool:
        """True when the last step terminated or truncated the episode."""
        return bool(self.end[-1] or self.trunc[-1])

    @property
    def final_observation(self) -> torch.Tensor | None:
        """The uint8 (C, H, W) observation after the last step, when known."""
        return self.info.get(FINAL_OBSERVATION)

    def compute_metrics(self) -> dict[str, float]:
        """Length and undiscounted return."""
        return {"length": len(self), "return": float(self.rew.sum().item())}

    def append(self, other: Episode) -> Episode:
        """This episode followed by `other` (the next steps of the same episode). This one must not be finished."""
        if self.is_finished:
            raise ValueError("cannot extend an episode whose last step has end or trunc set")
        if other.frame_shape != self.frame_shape:
            raise ValueError(f"frame shape {other.frame_shape} differs from the episode's {self.frame_shape}")
        if other.act.dtype != self.act.dtype or other.act.shape[1:] != self.act.shape[1:]:
            raise ValueError(
                f"actions {other.act.dtype} {tuple(other.act.shape[1:])} differ from the episode's "
                f"{self.act.dtype} {tuple(self.act.shape[1:])}"
            )
        parts = {k: torch.cat((getattr(self, k), getattr(other, k))) for k in FIELDS}
        info = {k: v for k, v in self.info.items() if k != FINAL_OBSERVATION}
        info.update(other.info)
        return Episode(**parts, info=info)

    def head(self, length: int) -> Episode:
        """The first `length` steps (their final observation is unknown unless `length == len(self)`)."""
        if not 1 <= length <= len(self):
            raise ValueError(f"length must be in [1, {len(self)}], got {length}")
        if length == len(self):
            return self
        info = {k: v for k, v in self.info.items() if k != FINAL_OBSERVATION}
        return Episode(*(getattr(self, k)[:length] for k in FIELDS), info=info)

    def steps(self, lo: int, hi: int) -> Episode:
        """Steps [lo, hi) (views); the final observation is kept only when `hi == len(self)`."""
        if not 0 <= lo < hi <= len(self):
            raise ValueError(f"steps [{lo}, {hi}) outside the episode's [0, {len(self)})")
        if lo == 0 and hi == len(self):
            return self
        info = (
            self.info if hi == len(self) else {k: v for k, v in self.info.items() if k != FINAL_OBSERVATION}
        )
        return Episode(*(getattr(self, k)[lo:hi] for k in FIELDS), info=dict(info))

    def with_truncation(self) -> Episode:
        """A copy whose last step is marked truncated (to close an episode that can no longer be continued)."""
        trunc = self.trunc.clone()
        if not self.end[-1]:
            trunc[-1] = 1
        return Episode(self.obs, self.act, self.rew, self.end, trunc, dict(self.info))

    def to_file_dict(self) -> dict[str, Any]:
        """The dict stored in an episode file (published layout; final observation as float in [-1, 1])."""
        info = dict(self.info)
        if info.get(FINAL_OBSERVATION) is not None:
            info[FINAL_OBSERVATION] = to_float_frames(info[FINAL_OBSERVATION])
        return {k: getattr(self, k).contiguous() for k in FIELDS} | {"info": info}

    @classmethod
    def from_file_dict(cls, d: Any, path: str | Path = "<memory>") -> Episode:
        """Validate and convert the dict of an episode file; errors name `path`."""
        if not isinstance(d, dict):
            raise EpisodeFileError(path, f"expected a dict, found {type(d).__name__}")
        missing = [k for k in FIELDS if k not in d]
        if missing:
            raise EpisodeFileError(path, f"missing keys {missing} (found {sorted(d)})")
        obs = d["obs"]
        if torch.is_tensor(obs) and obs.is_floating_point():  # frames saved as floats in [-1, 1]
            obs = to_uint8_frames(obs)
        info = dict(d.get("info") or {})
        final = info.get(FINAL_OBSERVATION)
        if torch.is_tensor(final):
            final = final.cpu()
            final = to_uint8_frames(final) if final.is_floating_point() else final.to(torch.uint8)
            info[FINAL_OBSERVATION] = final.reshape(final.shape[-3:])
        try:
            return cls(
                obs=obs,
                act=d["act"].float() if d["act"].is_floating_point() else d["act"].long(),
                rew=d["rew"].float(),
                end=d["end"].to(torch.uint8),
                trunc=d["trunc"].to(torch.uint8),
                info=info,
            )
        except (ValueError, AttributeError, RuntimeError) as e:
            raise EpisodeFileError(path, f"invalid content: {e}") from e

    def save(self, path: str | Path) -> None:
        """Write the episode file atomically (temporary file + os.replace)."""
        atomic_save_pt(self.to_file_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> Episode:
        """Read an episode file; a missing, truncated or corrupted file raises `EpisodeFileError` naming it."""
        path = Path(path)
        if not path.is_file():
            raise EpisodeFileError(path, "file not found")
        try:
            d = load_pt(path)
        except UnsafePickleError as e:
            raise EpisodeFileError(path, f"refusing to load it: {e.reason}") from None
        except UnreadableFileError as e:
            raise EpisodeFileError(path, f"unreadable: {e.reason}; {RESTORE_HINT}") from None
        except OSError as e:
            raise EpisodeFileError(path, f"unreadable: {e.strerror or e}") from e
        return cls.from_file_dict(d, path)


class EpisodeFile:
    """An episode file whose steps are read a few at a time (`read`), each field's rows by one `os.pread`.

    Opening reads the file's directory and pickle only (`diamond_wm.data.storage.read_pt_layout`). A file that
    cannot be read this way (legacy format, unexpected content) is loaded whole instead, once, so that the error
    is the one `Episode.load` gives (or, for a readable legacy file, its steps come from that copy).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._whole: Optional[Episode] = None
        self._records: dict[str, TensorRecord] = {}
        self._info: dict[str, Any] = {}
        try:
            if not hasattr(os, "pread"):  # Windows
                raise PartialReadError("os.pread is not available")
            layout = read_pt_layout(self.path)
        except PartialReadError as e:
            log.debug("%s: read whole (%s)", self.path, e)
            self._whole = Episode.load(self.path)
            return
        except FileNotFoundError:
            raise EpisodeFileError(self.path, "file not found") from None
        except OSError as e:
            raise EpisodeFileError(self.path, f"unreadable: {e.strerror or e}") from e
        if not isinstance(layout, dict) or any(not isinstance(layout.get(k), TensorRecord) for k in FIELDS):
            self._whole = Episode.load(self.path)  # names what is missing or wrong
            return
        self._records = {k: layout[k] for k in FIELDS}
        lengths = {r.shape[0] if r.shape else 0 for r in self._records.values()}
        if len(lengths) != 1 or self._records["obs"].dtype not in (torch.uint8, torch.float32):
            self._whole = Episode.load(self.path)
            return
        self.length = lengths.pop()
        info = layout.get("info") or {}
        self._info = dict(info) if isinstance(info, dict) else {}
        if self.length < 1:
            raise EpisodeFileError(self.path, "invalid content: an episode needs at least one step, got 0")

    def __len__(self) -> int:
        return len(self._whole) if self._whole is not None else self.length

    def read(self, lo: int, hi: int, length: Optional[int] = None) -> Episode:
        """Steps [lo, hi) of the first `length` steps (default: all) as an `Episode`; its info holds the
        file's plain entries, and the final observation when `hi` is the last step of the whole file."""
        length = len(self) if length is None else length
        if not 0 <= lo < hi <= length <= len(self):
            raise ValueError(f"steps [{lo}, {hi}) of {length} outside the file's {len(self)} steps")
        if self._whole is not None:
            return self._whole.head(length).steps(lo, hi)
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                d: dict[str, Any] = {k: r.read_rows(fd, lo, hi) for k, r in self._records.items()}
                info = {k: v for k, v in self._info.items() if not isinstance(v, TensorRecord)}
                final = self._info.get(FINAL_OBSERVATION)
                if hi == len(self) and isinstance(final, TensorRecord) and final.shape:
                    info[FINAL_OBSERVATION] = final.read_rows(fd, 0, final.shape[0])
                d["info"] = info
            finally:
                os.close(fd)
        except (OSError, PartialReadError) as e:
            raise EpisodeFileError(self.path, f"unreadable: {getattr(e, 'strerror', None) or e}") from e
        return Episode.from_file_dict(d, self.path)
