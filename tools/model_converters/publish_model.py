#!/usr/bin/env python
"""Make a training checkpoint fit for release: weights and meta only, sha256 in the file
name.

    python tools/model_converters/publish_model.py work_dirs/sola_t_in1k/epoch_300.pth \\
        sola_t_in1k.pth
    # -> sola_t_in1k-<first 8 hex digits of the file's sha256>.pth

Kept: ``state_dict`` (with its version metadata) and ``meta`` (config text, dataset classes,
epoch and iteration). Dropped: the optimizer, the parameter schedulers, the message hub, the
EMA hook's ``ema_state_dict`` and any other training state. In a checkpoint saved with
mmengine's EMAHook, ``state_dict`` already holds the EMA weights (the hook swaps them in
when it saves), so those are the ones published.

The file is written atomically; its name carries the sha256 prefix as OpenMMLab's model zoo
names do. The work is :func:`mmsola.convert.publish.publish`.
"""
import argparse
import sys

from mmsola.cli import run_tool
from mmsola.convert.publish import publish


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='publish_model.py', description='Make a training checkpoint fit for release: '
        'weights and meta only, sha256 in the file name.')
    parser.add_argument('src', metavar='IN', help='checkpoint written by training')
    parser.add_argument('out', metavar='OUT',
                        help='name of the release file; -<sha8> goes before .pth')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Publish and say what was kept and written; returns :func:`publish`'s result. Raises
    an mmsola user error for input it cannot publish."""
    result = publish(args.src, args.out)
    print(f'kept {", ".join(result["kept"])} ({result["tensors"]} tensors); dropped '
          f'{", ".join(result["dropped"]) or "nothing"}')
    state = 'already published (identical file)' if result['existed'] else 'wrote'
    print(f'{state} {result["path"]} (sha256 {result["sha256"]})')
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_tool('publish_model.py', lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
