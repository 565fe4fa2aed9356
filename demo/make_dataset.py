"""Build (or check) the demo's synthetic ADE20K-layout dataset.

Run from the repository root::

    python -m demo.make_dataset                      # data/sola_demo, seed 0
    python -m demo.make_dataset --verify             # re-hash the files vs the manifest
    python -m demo.make_dataset out/ --seed 3 --num-train 400

Outdoor scenes: sky over grass or water, with trees, houses, rocks and vehicles; a vehicle is a
car on grass and a boat on water, the same drawing otherwise (demo/scene.py). The same seed
and sizes write byte-identical files; ``python -m demo.run_demo`` builds it on first use with
the defaults. A folder at the root is replaced only with --force, and only if it is a demo
dataset (one with a manifest). Exit status 0, or 2 with one ``make_dataset.py: error:`` line.
"""
import argparse
import shutil
import sys
import time
from pathlib import Path

from demo.synthetic_ade import (
    DEFAULT_ROOT,
    build_demo_dataset,
    describe_demo_dataset,
    read_manifest,
    verify_demo_dataset,
)
from mmsola.cli import run_tool
from mmsola.errors import ArgumentError, OutputExistsError


def parse_args():
    p = argparse.ArgumentParser(prog='make_dataset.py',
                                description="Build (or check) the demo's synthetic "
                                'ADE20K-layout dataset.',
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('root', nargs='?', default=DEFAULT_ROOT, help='dataset directory')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=200)
    p.add_argument('--num-val', type=int, default=50)
    p.add_argument('--image-size', type=int, default=128)
    p.add_argument('--force', action='store_true',
                   help='replace an existing demo dataset at root (one with a manifest)')
    p.add_argument('--verify', action='store_true',
                   help='only check the files at root against their recorded SHA-256')
    return p.parse_args()


def make_dataset(args: argparse.Namespace) -> None:
    """Check (--verify) or build the dataset, then describe it."""
    root = Path(args.root)
    if args.verify:
        verify_demo_dataset(root)
        print(f'{root}: every file matches its recorded SHA-256')
        print(describe_demo_dataset(root))
        return
    if root.exists():
        if not args.force:
            raise OutputExistsError(f'{root} exists; pass --force to replace it, or --verify to '
                                  'check it')
        if read_manifest(root) is None:
            raise ArgumentError(f'{root} is not a demo dataset (no manifest); not deleting it')
        shutil.rmtree(root)
    start = time.time()
    build_demo_dataset(root, args.seed, args.num_train, args.num_val, args.image_size)
    print(f'built in {time.time() - start:.1f} s')
    print(describe_demo_dataset(root))


def main() -> int:
    args = parse_args()
    return run_tool('make_dataset.py', lambda: make_dataset(args))


if __name__ == '__main__':
    sys.exit(main())
