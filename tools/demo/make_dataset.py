"""Build (or check) the demo's synthetic ADE20K-layout dataset.

    python tools/demo/make_dataset.py                      # data/sola_demo, seed 0
    python tools/demo/make_dataset.py --verify             # re-hash the files vs the manifest
    python tools/demo/make_dataset.py out/ --seed 3 --num-train 400

Outdoor scenes: sky over grass or water, with trees, houses, rocks and vehicles; a vehicle is a
car on grass and a boat on water, the same drawing otherwise (see mmsola/demo/scene.py).
The same seed and sizes write byte-identical files; tools/demo/run_demo.py builds it on first
use with the defaults.
"""
import argparse
import shutil
import sys
import time
from pathlib import Path

from mmsola.apis.cli import USER_ERROR_STATUS, error_line
from mmsola.demo import (
    CLASSES,
    DEFAULT_ROOT,
    build_demo_dataset,
    read_manifest,
    verify_demo_dataset,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
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
    return p.parse_args(argv)


def describe(root: Path) -> None:
    m = read_manifest(root)
    print(f'{root}: {m["num_train"]} train / {m["num_val"]} val images of '
          f'{m["image_size"]}x{m["image_size"]}, seed {m["seed"]}, {len(m["sha256"])} files')
    print(f'{"class":<12}{"train px %":>11}{"val px %":>10}')
    shares = {}
    for split in ('training', 'validation'):
        total = sum(m['class_pixels'][split].values())
        shares[split] = {k: 100 * v / total for k, v in m['class_pixels'][split].items()}
    for name in list(CLASSES) + ['unlabelled']:
        print(f'{name:<12}{shares["training"][name]:>11.1f}{shares["validation"][name]:>10.1f}')


def main(argv=None) -> Path:
    args = parse_args(argv)
    root = Path(args.root)
    if args.verify:
        verify_demo_dataset(root)
        print(f'{root}: every file matches its recorded SHA-256')
        describe(root)
        return root
    if root.exists():
        if not args.force:
            raise FileExistsError(f'{root} exists; pass --force to replace it, or --verify to '
                                  'check it')
        if read_manifest(root) is None:
            raise ValueError(f'{root} is not a demo dataset (no manifest); not deleting it')
        shutil.rmtree(root)
    start = time.time()
    build_demo_dataset(root, args.seed, args.num_train, args.num_val, args.image_size)
    print(f'built in {time.time() - start:.1f} s')
    describe(root)
    return root


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileExistsError, FileNotFoundError) as err:  # bad input
        print(error_line('make_dataset.py', err), file=sys.stderr)
        sys.exit(USER_ERROR_STATUS)
