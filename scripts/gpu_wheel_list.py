"""The packages a GPU machine needs for `scripts/gpu_check.sh`, pinned to the versions installed here.

    python scripts/gpu_wheel_list.py [--present torch,numpy,...] [--skip imageio-ffmpeg] [--extra pytest]

Prints `name==version` lines: every runtime dependency of diamond-wm (pyproject.toml) and of the `--extra`
packages, with their own dependencies, as installed in this Python environment (the combination the project is
tested with), less the `--present` packages (what the GPU machine has already) and the `--skip` ones. The
environment markers are evaluated for CPython 3.12 on Linux x86_64 (the GPU machine's Python), whatever runs this.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What the GPU machine ships with (and so what is never downloaded for it).
PRESENT = ("torch", "numpy", "h5py", "opencv-python-headless", "opencv-python", "imageio", "tqdm", "pip")
# Optional at run time and large: imageio-ffmpeg is the ffmpeg binary of `diamond eval`'s mp4 videos (30 MB).
SKIP = ("imageio-ffmpeg",)
EXTRA = ("pytest",)  # the GPU check runs part of the test suite
TARGET_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}


def normalize(name: str) -> str:
    """PEP 503 name: `Farama_Notifications` -> `farama-notifications`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_dependencies(pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    """The `[project] dependencies` of pyproject.toml (requirement strings)."""
    import tomllib

    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def requirement_names(requirements: list[str], markers: dict[str, str] = TARGET_MARKERS) -> list[str]:
    """Names of the requirements that apply on the target machine (no extras asked for)."""
    from packaging.requirements import Requirement

    names = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(markers):
            names.append(normalize(req.name))
    return names


def installed_requires(name: str) -> list[str]:
    """The requirement strings of an installed distribution ([] when it is not installed)."""
    try:
        return metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return []


def closure(roots: list[str], requires=installed_requires, stop: frozenset[str] = frozenset()) -> list[str]:
    """`roots` and everything they depend on (normalized names, breadth first, each once), not looking into the
    dependencies of the `stop` names."""
    seen: list[str] = []
    todo = [normalize(r) for r in roots]
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.append(name)
        if name not in stop:
            todo += [n for n in requirement_names(requires(name)) if n not in seen]
    return seen


def wheel_list(
    roots: list[str],
    present: list[str],
    skip: list[str],
    requires=installed_requires,
    version=metadata.version,
) -> list[str]:
    """`name==version` of the closure of `roots`, less the `present` and `skip` names and what only they need.
    A dependency of a present package that the others need too is listed (small, and installed where missing)."""
    have = frozenset(normalize(s) for s in [*present, *skip])
    out = []
    for name in closure(roots, requires, stop=have):
        if name in have:
            continue
        try:
            out.append(f"{name}=={version(name)}")
        except metadata.PackageNotFoundError:
            sys.exit(
                f"{name} is not installed in this environment ({sys.executable}): install the project first"
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--present", default=",".join(PRESENT), help="packages the GPU machine has")
    parser.add_argument("--skip", default=",".join(SKIP), help="packages left out")
    parser.add_argument("--extra", default=",".join(EXTRA), help="more packages to bring")
    args = parser.parse_args()
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    roots = requirement_names(project_dependencies()) + split(args.extra)
    for line in wheel_list(roots, split(args.present), split(args.skip)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
