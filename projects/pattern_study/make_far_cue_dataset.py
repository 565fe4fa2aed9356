"""Build the far-cue dataset of the pattern study's CPU default (far_cue.py beside this file).

Run from the repository root::

    python -m projects.pattern_study.make_far_cue_dataset          # data/sola_far_cue, seed 0
    python -m projects.pattern_study.make_far_cue_dataset data/sola_far_cue_lookup --markers 2

A light-grey bar near the centre takes the colour (red, green, blue) of a marker bar near a
corner: of the only one (--markers 1), or of the one with its orientation (--markers 2). A
dataset already at the root with the same settings is reused; other settings are an error
(exit status 2 with one ``make_far_cue_dataset.py: error:`` line).
"""
import argparse
import sys

from mmsola.cli import run_tool
from projects.pattern_study.far_cue import (
    FAR_CUE_ROOT,
    MARKER_COUNTS,
    ensure_far_cue_dataset,
    read_manifest,
)


def parse_args():
    p = argparse.ArgumentParser(prog='make_far_cue_dataset.py',
                                description="Build the far-cue dataset of the pattern study's "
                                'CPU default.',
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('root', nargs='?', default=FAR_CUE_ROOT, help='dataset directory')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=2000)
    p.add_argument('--num-val', type=int, default=200)
    p.add_argument('--image-size', type=int, default=64)
    p.add_argument('--markers', type=int, default=1, choices=MARKER_COUNTS,
                   help='1: the object has the colour of the one marker; 2: of the marker '
                   'with its orientation')
    return p.parse_args()


def make_far_cue_dataset(args: argparse.Namespace) -> None:
    """Build the dataset (or reuse the one there) and print what it holds."""
    root, built = ensure_far_cue_dataset(args.root, args.seed, args.num_train, args.num_val,
                                         args.image_size, args.markers)
    m = read_manifest(root)
    print(f"{root} ({'built' if built else 'already there'}): {m['num_train']} train / "
          f"{m['num_val']} val images of {m['image_size']}x{m['image_size']}, "
          f"{m['markers']} marker(s), objects per "
          f"class (red, green, blue): train {m['objects_per_class']['training']}, "
          f"val {m['objects_per_class']['validation']}")


def main() -> int:
    args = parse_args()
    return run_tool('make_far_cue_dataset.py', lambda: make_far_cue_dataset(args))


if __name__ == '__main__':
    sys.exit(main())
