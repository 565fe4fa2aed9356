#!/usr/bin/env python
"""Evaluate a checkpoint with an mmsola config, in mmdet, mmseg or mmpretrain (by its scope).

    python tools/test.py configs/upernet_sola_t_ade20k.py CKPT [--work-dir DIR]
        [--out preds.pkl] [--show-dir DIR] [--tta] [--cfg-options KEY=VALUE ...]
        [--launcher pytorch]

The metrics go to the log and to WORK_DIR/<timestamp>/<timestamp>.json. Before anything is
built, the config, the test data, the checkpoint (exists, can be read, fits the model) and
the output paths are checked; a problem ends the run with one message (exit status 2), as
does a damaged image or a label outside the classes met while testing.
"""
import argparse
import os.path as osp
import sys
from copy import deepcopy

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.evaluator import DumpResults

from mmsola.checks import ConfigError, check_run, load_config, toolkit_of
from mmsola.checks.config import set_work_dir
from mmsola.checks.run_errors import naming_empty_images
from mmsola.cli import run_tool
from mmsola.launcher import add_launcher_args, build_runner, export_local_rank, setup_launcher


class DumpSegResults(DumpResults):
    """mmengine's DumpResults without the per-class ``seg_logits`` (C x H x W floats per
    image); keeps ``pred_sem_seg``, ``gt_sem_seg`` and the image meta."""

    def process(self, data_batch, predictions) -> None:
        super().process(data_batch, [{k: v for k, v in p.items() if k != 'seg_logits'}
                                     for p in predictions])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='test.py', description='Evaluate a checkpoint with an mmsola config, in mmdet, '
        'mmseg or mmpretrain (by its default_scope).')
    parser.add_argument('config', help='config file, e.g. configs/sola_t_in1k.py')
    parser.add_argument('checkpoint', help='checkpoint file to evaluate')
    parser.add_argument('--work-dir', help='where the log and metrics go (default: '
                        'work_dirs/<config name>)')
    parser.add_argument('--out', metavar='FILE.pkl',
                        help='write the predictions to this pickle file (mmdet: its '
                        'DumpDetResults; mmseg: label maps; mmpretrain: scores and labels)')
    parser.add_argument('--show-dir', metavar='DIR',
                        help='save each test image with its predictions drawn into DIR '
                        "(mmseg: into DIR/vis_data/vis_image, as mmseg's own tool does)")
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_model and "
                        'tta_pipeline (mmpretrain: flip averaging when it has none)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config entries, e.g. test_dataloader.batch_size=4')
    add_launcher_args(parser, 'tools/dist_test.sh')
    args = parser.parse_args(argv)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out {args.out}: name a pickle file (.pkl or .pickle)')
    export_local_rank(args)
    return args


def _show(cfg: Config, show_dir: str) -> None:
    """Turn on the toolkit's visualization hook, drawing every test image into show_dir."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise ConfigError("--show-dir needs default_hooks.visualization (the toolkit's "
                          'VisualizationHook) in the config; its default_runtime base has it.')
    toolkit = toolkit_of(cfg)
    if toolkit == 'mmdet':
        hook.update(draw=True, test_out_dir=show_dir)
    elif toolkit == 'mmseg':  # draws through the visualizer's backends, into save_dir
        hook.update(draw=True, interval=1)
        cfg.visualizer.save_dir = show_dir
    else:
        hook.update(enable=True, out_dir=show_dir, interval=1)


def _flip_tta(cfg: Config) -> None:
    """mmpretrain's default TTA: average the scores of the image and its mirror."""
    cfg.setdefault('tta_model', dict(type='mmpretrain.AverageClsScoreTTA'))
    if 'tta_pipeline' not in cfg:
        pipeline = deepcopy(cfg.test_dataloader.dataset.pipeline)
        pipeline[-1] = dict(type='TestTimeAug', transforms=[
            [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
            [pipeline[-1]]])
        cfg.tta_pipeline = pipeline


def _check_tta(cfg: Config) -> None:
    """The config has what --tta needs (mmpretrain gets flip averaging by default)."""
    if toolkit_of(cfg) == 'mmpretrain':
        _flip_tta(cfg)
    absent = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if absent:
        raise ConfigError(
            f'--tta: {cfg.filename} has no {" and no ".join(absent)}. Add both to the config '
            "(see the toolkit's *_tta.py configs, e.g. mmdet's DetTTAModel with a "
            'TestTimeAug pipeline), or test without --tta.')


def _tta(cfg: Config) -> None:
    """Wrap the model in the config's TTA model and test with its TTA pipeline."""
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def _dump_metric(toolkit: str, out: str):
    if toolkit == 'mmdet':
        from mmdet.evaluation import DumpDetResults
        return DumpDetResults(out_file_path=out)
    if toolkit == 'mmseg':
        return DumpSegResults(out_file_path=out)
    return DumpResults(out_file_path=out)


def test(args: argparse.Namespace) -> dict:
    """The test pass; returns the metrics (as ``Runner.test``)."""
    cfg = load_config(args.config, args.cfg_options)
    set_work_dir(cfg, args.work_dir, args.config)
    if args.tta:
        _check_tta(cfg)
    if args.show_dir:
        _show(cfg, osp.abspath(args.show_dir))
    outputs = [(args.out, '--out', False)] if args.out else []
    if args.show_dir:
        outputs.append((args.show_dir, '--show-dir', True))

    check_run(cfg, 'test', args.checkpoint, outputs, args.launcher)  # the model before TTA

    cfg.load_from, cfg.resume = args.checkpoint, False
    if args.tta:
        _tta(cfg)
    setup_launcher(cfg, args.launcher)
    runner = build_runner(cfg)
    if args.out:
        runner.test_evaluator.metrics.append(_dump_metric(toolkit_of(cfg), args.out))
    with naming_empty_images(cfg):
        return runner.test()


def main(argv=None) -> int:
    args = parse_args(argv)
    return run_tool('test.py', lambda: test(args))


if __name__ == '__main__':
    sys.exit(main())
