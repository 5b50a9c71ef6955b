"""``python -m tol10m_assets.sample --out DIR --images N --seed S``"""

from __future__ import annotations

import argparse

from tol10m_assets.sample import make_sample_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tol10m_assets.sample", description="Write a sample world of every raw input.")
    parser.add_argument("--out", required=True, help="directory to write (a previous sample world there is replaced)")
    parser.add_argument("--images", type=int, default=300, help="about how many source images in all (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--published-style", action="store_true",
                        help="name lookups that differ on purpose from the raw name sources (as the published ones do)")
    args = parser.parse_args(argv)
    make_sample_world(args.out, images=args.images, seed=args.seed, published_style=args.published_style)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
