"""SoLAVision records its RoPE layout in its checkpoints (``_version`` 2) and refuses one of the
other layout where the two would compute different things; version-1 checkpoints are
'per_head'."""
import pytest
import torch
from torch import nn

from mmsola.models import SoLAVision
from mmsola.models.backbones.sola_vision import mark_rope_layout
from .helpers import randomize_, small_backbone

LAYOUTS = ('mlla', 'per_head')
ONE_HEAD = dict(arch=dict(embed_dims=16, num_heads=[1, 1, 1, 1],
                          layer_pattern=['L', 'S', 'L', 'S']), drop_path_rate=0.)

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def _saved_and_loaded(obj, tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(obj, path)
    return torch.load(path, weights_only=True)


def _outputs(model, x):
    with torch.no_grad():
        return model.eval()(x)


@pytest.mark.parametrize('rope_layout', LAYOUTS)
def test_checkpoint_records_version_and_layout_and_reloads(rope_layout, tmp_path):
    model = randomize_(small_backbone(rope_layout=rope_layout, attn_backend='torch'))
    state = _saved_and_loaded(model.state_dict(), tmp_path)  # weights-only keeps the metadata
    assert state._metadata[''] == {'version': 2, 'rope_layout': rope_layout}
    fresh = small_backbone(rope_layout=rope_layout, attn_backend='torch')
    fresh.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 45, 61)
    for a, b in zip(_outputs(fresh, x), _outputs(model, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('saved,built', [('mlla', 'per_head'), ('per_head', 'mlla')])
def test_the_other_layout_is_refused_naming_the_argument(saved, built, tmp_path):
    state = _saved_and_loaded(small_backbone(rope_layout=saved).state_dict(), tmp_path)
    model = small_backbone(rope_layout=built)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match=f"version 2, saved with rope_layout='{saved}'.*"
                       f"built with rope_layout='{built}'.*"
                       f"Build the backbone with rope_layout='{saved}'"):
        model.load_state_dict(state)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_version_1_metadata_means_per_head():
    state = small_backbone(rope_layout='per_head').state_dict()
    state._metadata[''] = {'version': 1}
    small_backbone(rope_layout='per_head').load_state_dict(state)
    with pytest.raises(RuntimeError, match="checkpoint version 1.*rope_layout='per_head'"):
        small_backbone().load_state_dict(state)


def test_one_head_everywhere_loads_across_layouts():
    """With one head per core both layouts compute the same, so nothing is refused."""
    old = randomize_(SoLAVision(**ONE_HEAD, rope_layout='per_head', attn_backend='torch'))
    plain = dict(old.state_dict())  # no metadata: taken as version 1, 'per_head'
    model = SoLAVision(**ONE_HEAD, attn_backend='torch')
    assert model.rope_layout == 'mlla' and not model.rope_layout_matters()
    model.load_state_dict(plain)
    x = torch.randn(1, 3, 64, 96)
    for a, b in zip(_outputs(model, x), _outputs(old, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_mark_rope_layout_records_a_hand_built_state_dict():
    model = small_backbone()
    plain = {k: v.clone() for k, v in model.state_dict().items()}  # e.g. a converter's output
    with pytest.raises(RuntimeError, match='mark_rope_layout'):
        small_backbone().load_state_dict(plain)
    marked = mark_rope_layout(plain, 'mlla')
    assert marked._metadata[''] == {'version': 2, 'rope_layout': 'mlla'}
    small_backbone().load_state_dict(marked, strict=True)
    with pytest.raises(ValueError, match='rope_layout must be one of'):
        mark_rope_layout(plain, 'MLLA')


class _WithBackbone(nn.Module):
    """A classifier- or detector-like parent: the backbone's keys under ``backbone.``."""

    def __init__(self, **kwargs):
        super().__init__()
        self.backbone = small_backbone(**kwargs)
        self.head = nn.Linear(128, 3)


def test_pretrained_init_cfg_and_export_loading_keep_the_layout_check(tmp_path):
    """init_cfg Pretrained with prefix='backbone.' (and the export's strict loader) carry the
    metadata along: the matching layout loads, the other is refused."""
    from mmsola.deploy.checkpoint import load_checkpoint_strict
    parent = randomize_(_WithBackbone(rope_layout='per_head'))
    path = tmp_path / 'cls.pth'
    torch.save({'state_dict': parent.state_dict()}, path)
    cfg = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')
    ok = small_backbone(rope_layout='per_head', init_cfg=cfg)
    ok.init_weights()
    torch.testing.assert_close(ok.stem.state_dict(), parent.backbone.stem.state_dict())
    with pytest.raises(RuntimeError, match="Build the backbone with rope_layout='per_head'"):
        small_backbone(init_cfg=cfg).init_weights()
    assert load_checkpoint_strict(small_backbone(rope_layout='per_head', out_indices=(3, )),
                                  str(path), prefix='backbone.') > 0
    with pytest.raises(RuntimeError, match="Build the backbone with rope_layout='per_head'"):
        load_checkpoint_strict(small_backbone(out_indices=(3, )), str(path), prefix='backbone.')
    # the whole parent, as a Runner's load_from does
    _WithBackbone(rope_layout='per_head').load_state_dict(
        torch.load(path, weights_only=True)['state_dict'])
    with pytest.raises(RuntimeError, match='rope_layout'):
        _WithBackbone().load_state_dict(torch.load(path, weights_only=True)['state_dict'])


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(ValueError, match="rope_layout must be one of \\('mlla', 'per_head'\\)"):
        small_backbone(rope_layout='full_width')
