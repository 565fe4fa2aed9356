"""mmsola.analysis.flops (tools/analysis/get_flops.py): the attention products are counted,
equal to a hand count; --config counts the whole model of any toolkit's config."""
import sys

import pytest
from mmengine.config import Config

from mmsola.analysis import flops
from mmsola.checks import ConfigError
from mmsola.models import SoLAVision
from tests.support.paths import REPO_ROOT
from tests.support.tool_runs import run_cli

CONFIGS = REPO_ROOT / 'configs'


def test_attention_counted_equals_hand_count():
    """Widths 16..128, head dim 8, input 64x64: grids 16x16, 8x8, 4x4, 2x2."""
    r = flops.report('tiny', (64, 64), layer_pattern='L/S/H/S', embed_dims=16,
                     num_classes=10)
    d = 8
    # softmax, 2 h N^2 d: stage 1 'S' (4 heads, N=64), stage 2 'H' (4 of 8 heads, N=16),
    # stage 3 'S' (16 heads, N=4)
    softmax = 2 * 4 * 64**2 * d + 2 * 4 * 16**2 * d + 2 * 16 * 4**2 * d
    # linear, h N d (2d + 1): stage 0 'L' (2 heads, N=256), stage 2 'H' (4 of 8 heads)
    linear = 2 * 256 * d * (2 * d + 1) + 4 * 16 * d * (2 * d + 1)
    assert r['attention'] == {'softmax': softmax, 'linear': linear}
    assert r['pattern'] == 'L/S/H/S'
    assert r['params'] == r['backbone_params'] + 128 * 10 + 10


def test_swapping_a_linear_block_for_softmax():
    """Stage 1 (C=32, 4 heads, d=8, N=64): 'S' instead of 'L' adds QK^T and attn@V, removes
    the linear products and adds the v projection (N C^2); nothing else changes."""
    lin = flops.report('tiny', (64, 64), layer_pattern='L/L/L/L', embed_dims=16)
    soft = flops.report('tiny', (64, 64), layer_pattern='L/S/L/L', embed_dims=16)
    n, h, d, c = 64, 4, 8, 32
    assert soft['flops'] - lin['flops'] == 2 * h * n * n * d - h * n * d * (2 * d + 1) \
        + n * c * c


def test_a_missing_handle_is_caught(monkeypatch):
    monkeypatch.setattr(flops, 'sdpa_flop_jit', lambda inputs, outputs: 0)
    with pytest.raises(RuntimeError, match='hand count'):
        flops.report('tiny', (32, 32), layer_pattern='L/L/S/S', embed_dims=16)


def test_cli_prints_the_table():
    """The tool as a user runs it (a fresh process)."""
    done = run_cli([sys.executable, 'tools/analysis/get_flops.py', '--arch', 'tiny', '--shape',
                    '64', '64', '--layer-pattern', 'LL/LLLL/LLLSLLLS/LLLS'])
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert '| tiny | LL/LLLL/LLLSLLLS/LLLS | 64x64 |' in out
    row = [line for line in out.splitlines() if line.startswith('| tiny')][0]
    params = float(row.split('|')[4])
    assert 24.5 < params < 30  # the spec's expected size of tiny


@pytest.mark.parametrize('name, shape', [
    ('sola_t_in1k.py', (224, 224)),             # ResizeEdge 256 then CenterCrop 224
    ('upernet_sola_s_ade20k.py', (512, 2048)),  # keep-ratio Resize (2048, 512): its box
    ('mask_rcnn_sola_b_fpn_3x_coco.py', (800, 1333)),
])
def test_default_shape_is_the_configs_test_size(name, shape):
    assert flops.test_input_shape(Config.fromfile(CONFIGS / name)) == shape


def test_a_config_without_a_test_size_is_refused():
    cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'), dict(type='PackSegInputs')]))))
    with pytest.raises(ValueError, match='--shape H W'):
        flops.test_input_shape(cfg)


# The arch's widths with one block per stage keep the whole-model traces fast.
SHORT = ['L', 'L', 'L', 'S']


def test_classifier_config_counts_as_the_arch():
    """SoLAVisionCls of sola_t_in1k is the counted classifier of --arch tiny: same numbers."""
    r = flops.report_config(str(CONFIGS / 'sola_t_in1k.py'), (64, 64),
                            {'model.backbone.layer_pattern': SHORT})
    arch = flops.report('tiny', (64, 64), layer_pattern='/'.join(SHORT))
    assert r['model'] == 'ImageClassifier' and r['shape'] == (64, 64)
    assert (r['params'], r['backbone_params'], r['flops'], r['attention']) == \
        (arch['params'], arch['backbone_params'], arch['flops'], arch['attention'])
    assert r['by_module']['head'] == 512 * 1000
    row = flops.format_config_table([r]).splitlines()[-1]
    assert row.startswith(f'| {CONFIGS / "sola_t_in1k.py"} | ImageClassifier | 64x64 | '
                          f'{arch["params"] / 1e6:.2f} |')


def test_detector_config_counts_heads_on_fixed_proposals():
    """The whole Mask R-CNN: backbone (attention = hand count), FPN, RPN head, and the RoI
    heads on test_cfg.rpn.max_per_img fixed proposals."""
    r = flops.report_config(str(CONFIGS / 'mask_rcnn_sola_t_fpn_1x_coco.py'), (64, 96), {
        'model.test_cfg.rpn.max_per_img': 10, 'model.backbone.layer_pattern': SHORT})
    assert r['model'] == 'MaskRCNN' and r['note'] == 'fixed 10 proposals'
    backbone = SoLAVision('tiny', layer_pattern=SHORT, out_indices=(0, 1, 2, 3))
    assert r['attention'] == flops.attention_flops_by_hand(backbone, (64, 96))
    assert r['backbone_params'] == sum(p.numel() for p in backbone.parameters())
    # per RoI: the box head (2 fc: 256*7*7 -> 1024 -> 1024, cls 81, box 80*4) and the mask
    # head (4 conv3x3 256 at 14x14, deconv 2x2 to 28x28, conv1x1 to 80 classes)
    box = 256 * 49 * 1024 + 1024 * 1024 + 1024 * 81 + 1024 * 320
    mask = 4 * 256 * 256 * 9 * 14 * 14 + 256 * 256 * 4 * 14 * 14 + 256 * 80 * 28 * 28
    assert r['by_module']['roi_head'] == 10 * (box + mask)
    assert r['by_module']['backbone'] == r['backbone_flops']
    assert r['flops'] == sum(r['by_module'].values())  # neck and rpn_head: the rest
    assert min(r['by_module'][k] for k in ('neck', 'rpn_head')) > 0


def test_bad_config_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="nope.py' does not exist"):
        flops.report_config(str(tmp_path / 'nope.py'))
    tool = [sys.executable, 'tools/analysis/get_flops.py']
    done = run_cli([*tool, '--config', str(tmp_path / 'nope.py')])
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith('get_flops.py: error: ') and 'nope.py' in line
    assert 'does not exist' in line
    done = run_cli([*tool, '--arch', 'tiny', '--config', str(CONFIGS / 'sola_t_in1k.py')])
    assert done.returncode == 2 and 'not allowed with argument' in done.stderr
