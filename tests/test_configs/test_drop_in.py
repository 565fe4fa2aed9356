"""Drop-in: the toolkits' own Swin-T configs, read from the installed mmdet and mmseg, with only
the backbone replaced by SoLAVision (and the neck's / heads' input channels), train one
iteration on a tiny dataset in the real layout, through mmengine's Runner."""
import math

import pytest
import torch

from tests.support.fake_data import tiny_cfg_dict, write_ade20k, write_coco

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')

SOLA_T = ("backbone=dict(_delete_=True, type='SoLAVision', arch='tiny', "
          'out_indices=(0, 1, 2, 3))')
CHANNELS = [64, 128, 256, 512]  # SoLA-Vision-T stages

# name: (the toolkit's config, the dataset writer, the batch size, the model change). UperNet's
# pyramid pooling has a 1x1 BatchNorm, which needs two images in a training batch.
DROP_INS = {
    'mmdet_mask_rcnn_swin_t': (
        'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', write_coco, 1,
        f'model = dict({SOLA_T}, neck=dict(in_channels={CHANNELS}))'),
    'mmseg_upernet_swin_t': (
        'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
        write_ade20k, 2,
        f'model = dict({SOLA_T}, decode_head=dict(in_channels={CHANNELS}), '
        f'auxiliary_head=dict(in_channels={CHANNELS[2]}))'),
}


def _drop_in_config(tmp_path, base, model_line):
    path = tmp_path / 'drop_in.py'
    path.write_text(f"_base_ = ['{base}']\n"
                    "custom_imports = dict(imports=['mmsola'], allow_failed_imports=False)\n"
                    f'{model_line}\n')
    return path


class _WatchBackbone:
    """Runner hook: the backbone's parameters before and after the training iteration."""
    priority = 'NORMAL'

    def __init__(self):
        self.before = self.after = None

    def _snapshot(self, runner):
        return {k: v.detach().clone() for k, v in runner.model.backbone.named_parameters()}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.before = self._snapshot(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.after = self._snapshot(runner)


@pytest.mark.parametrize('name', sorted(DROP_INS))
def test_toolkit_swin_config_with_sola_backbone_trains_one_iteration(name, tmp_path):
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    base, write_data, batch_size, model_line = DROP_INS[name]
    config = _drop_in_config(tmp_path, base, model_line)
    root = write_data(tmp_path / 'data', num_train=batch_size, num_val=1)
    cfg = Config.fromfile(str(config))
    # only the backbone (and its channels) changed from the toolkit's own config
    assert cfg.model.backbone == dict(type='SoLAVision', arch='tiny', out_indices=(0, 1, 2, 3))
    cfg.merge_from_dict(tiny_cfg_dict(config, root, work_dir=tmp_path / 'work', iters=1,
                                      batch_size=batch_size))
    # one training iteration, nothing else: no validation, no checkpoint, and a constant
    # learning rate (the recipes' warm-up starts near 0) so the step shows in the weights
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.param_scheduler = None

    runner = Runner.from_cfg(cfg)
    watch = type('WatchBackbone', (_WatchBackbone, Hook), {})()
    runner.register_hook(watch)
    runner.train()

    assert type(runner.model.backbone).__name__ == 'SoLAVision'
    assert runner.iter == 1
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())
    moved = [k for k in watch.before if not torch.equal(watch.before[k], watch.after[k])]
    assert len(moved) >= 0.9 * len(watch.before), \
        f'only {len(moved)} of {len(watch.before)} backbone tensors were updated'
