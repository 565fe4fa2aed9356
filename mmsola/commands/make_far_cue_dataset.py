"""What ``tools/demo/make_far_cue_dataset.py`` does: build the far-cue dataset of the pattern
study's CPU default (:mod:`mmsola.demo.far_cue`; ``python tools/demo/make_far_cue_dataset.py
-h``).

    python tools/demo/make_far_cue_dataset.py                 # data/sola_far_cue, seed 0
    python tools/demo/make_far_cue_dataset.py data/sola_far_cue_lookup --markers 2

A light-grey bar near the centre takes the colour (red, green, blue) of a marker bar near a
corner: of the only one (--markers 1), or of the one with its orientation (--markers 2). A
dataset already at the root with the same settings is reused; other settings are an error.
"""
import argparse
from pathlib import Path
from typing import List, Optional

from mmsola.cli import run_tool
from mmsola.demo.far_cue import (
    FAR_CUE_ROOT,
    MARKER_COUNTS,
    ensure_far_cue_dataset,
    read_manifest,
)

DESCRIPTION = ("Build the far-cue dataset of the pattern study's CPU default "
               '(mmsola.demo.far_cue).')
# bad input: other settings than the dataset there, a folder that is not one
USER_ERRORS = (ValueError, FileExistsError)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """``tools/demo/make_far_cue_dataset.py``'s arguments (``sys.argv[1:]`` when ``argv`` is
    None)."""
    p = argparse.ArgumentParser(prog='make_far_cue_dataset.py', description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('root', nargs='?', default=FAR_CUE_ROOT, help='dataset directory')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, default=2000)
    p.add_argument('--num-val', type=int, default=200)
    p.add_argument('--image-size', type=int, default=64)
    p.add_argument('--markers', type=int, default=1, choices=MARKER_COUNTS,
                   help='1: the object has the colour of the one marker; 2: of the marker '
                   'with its orientation')
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> Path:
    """Build the dataset (or reuse the one there) and print what it holds; returns its root."""
    root, built = ensure_far_cue_dataset(args.root, args.seed, args.num_train, args.num_val,
                                         args.image_size, args.markers)
    m = read_manifest(root)
    print(f"{root} ({'built' if built else 'already there'}): {m['num_train']} train / "
          f"{m['num_val']} val images of {m['image_size']}x{m['image_size']}, "
          f"{m['markers']} marker(s), objects per "
          f"class (red, green, blue): train {m['objects_per_class']['training']}, "
          f"val {m['objects_per_class']['validation']}")
    return root


def main(argv: Optional[List[str]] = None) -> int:
    """``tools/demo/make_far_cue_dataset.py``: exit status 0, or 2 with one
    ``make_far_cue_dataset.py: error:`` line."""
    args = parse_args(argv)
    return run_tool('make_far_cue_dataset.py', lambda: run(args), USER_ERRORS)
