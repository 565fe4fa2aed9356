"""The mmsola demo: train UperNet-SoLA on CPU in minutes and show what it learned.

Run from the repository root (``make demo`` does)::

    python -m demo.run_demo
    python -m demo.run_demo --seed 1 --iters 400 [--data-root DIR] [--work-dir-root DIR]

1. builds the synthetic ADE20K-layout dataset at --data-root unless it is already there;
2. trains configs/demo/upernet_sola_demo.py through tools/train.py in a new timestamped
   work dir under --work-dir-root (mmengine's log lines show the loss and the ETA);
3. scores the final checkpoint on the validation split with mmseg's IoUMetric, next to the
   trivial predictor (every pixel the most frequent training class);
4. writes metrics.json, training_curve.png and predictions.png into the work dir, and prints
   where they are and how to run tools/test.py and tools/infer.py on the checkpoint.

A rerun reuses the dataset and gets a work dir of its own, so earlier runs are kept.
--iters, --num-train and friends shrink the run (the tests use them). The steps are
:func:`demo.pipeline.run_demo`. Exit status 0; 2 with one ``run_demo.py: error:`` line for
bad input, 1 with one if the training failed.
"""
import os

# Idle OpenMP threads sleep instead of spinning: on a machine shared with other work, spinning
# threads that wait for a descheduled peer made each training step up to 10x slower. Set
# before torch loads (here and, inherited, in the training process); a user's value wins.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import argparse  # noqa: E402
import sys  # noqa: E402

from mmengine.config import DictAction  # noqa: E402

from demo.pipeline import DemoSettings, TrainingFailed, run_demo  # noqa: E402
from mmsola.cli import error_line, run_tool  # noqa: E402

# bad input (a dataset root holding something else, a config of another dataset or schedule)
# is one of mmsola's UserErrors: one line, exit status 2; a failed training is exit status 1
# (its log says why)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {text}')
    return value


def parse_args():
    """The fields of :class:`DemoSettings`, with its defaults."""
    d = DemoSettings()
    p = argparse.ArgumentParser(
        prog='run_demo.py', formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description='The mmsola demo: train UperNet-SoLA on CPU in minutes and show what it '
        'learned.')
    p.add_argument('--config', default=d.config, help='the demo config')
    p.add_argument('--data-root', default=d.data_root, help='where the dataset is (built)')
    p.add_argument('--work-dir-root', default=d.work_dir_root,
                   help='each run gets a timestamped work dir in here')
    data = p.add_argument_group('dataset (used only when it is built)')
    data.add_argument('--dataset-seed', type=int, default=d.dataset_seed)
    data.add_argument('--num-train', type=int, default=d.num_train)
    data.add_argument('--num-val', type=int, default=d.num_val)
    data.add_argument('--image-size', type=int, default=d.image_size)
    run = p.add_argument_group('training (default: the config\'s values)')
    run.add_argument('--iters', type=positive, help='training iterations')
    run.add_argument('--val-interval', type=positive, help='iterations between validations')
    run.add_argument('--batch-size', type=positive, help='training images per iteration')
    run.add_argument('--workers', type=int, help='data-loading worker processes (0: none)')
    run.add_argument('--seed', type=int,
                     help='training seed (default: a new random one, kept in metrics.json)')
    run.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                     help='more key=value overrides for the config, as tools/train.py takes')
    p.add_argument('--num-vis', type=positive, default=d.num_vis,
                   help='validation images in predictions.png')
    return p.parse_args()


def main() -> int:
    settings = DemoSettings(**vars(parse_args()))

    def work() -> int:
        try:
            run_demo(settings)
        except TrainingFailed as err:  # not the user's input: the training's log says why
            print(error_line('run_demo.py', err), file=sys.stderr)
            return 1
        return 0

    return run_tool('run_demo.py', work)


if __name__ == '__main__':
    sys.exit(main())
