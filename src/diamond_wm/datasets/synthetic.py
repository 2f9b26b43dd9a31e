"""`python -m diamond_wm.datasets.synthetic csgo|videos OUT ...`: the small examples of docs/walkthrough.md, written
by the generators of `diamond_wm.conversion.synthetic`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from diamond_wm.conversion.synthetic import write_csgo_tar, write_game_videos


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m diamond_wm.datasets.synthetic csgo|videos OUT ...`: the small examples of docs/walkthrough.md."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m diamond_wm.datasets.synthetic", description=main.__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("csgo", help="a tar of CS:GO hdf5 episodes (published keys, 150x280 frames)")
    p.add_argument("out", type=Path)
    p.add_argument("--episodes", type=int, default=3)
    p.add_argument("--frames", type=int, default=20, help="frames per episode (published: 1000)")
    p = sub.add_parser("videos", help="gameplay videos (mp4) with CSV action logs in the CS:GO layout")
    p.add_argument("out", type=Path)
    p.add_argument("--videos", type=int, default=2)
    p.add_argument("--frames", type=int, default=40, help="frames per video")
    p.add_argument("--size", default="60x100", help="HxW of the videos (default 60x100)")
    args = parser.parse_args(argv)
    if args.what == "csgo":
        print(f"wrote {write_csgo_tar(args.out, 1, args.episodes, args.frames)}")
    else:
        h, w = (int(x) for x in args.size.lower().split("x"))
        for path in write_game_videos(args.out, args.videos, args.frames, (h, w)):
            print(f"wrote {path} and {path.with_suffix('.csv').name}")


if __name__ == "__main__":
    main()
