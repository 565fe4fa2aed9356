"""Each config builds its model: the tiny ones for real, with a forward pass on a 64x64 image;
small and base on the meta device (no memory, no init), checking that the neck / heads take
exactly the channels the backbone gives."""
import pytest
import torch

from tests.support.configs import CLS, DET, SEG, arch_of, build_on_meta, load

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
pytest.importorskip('mmpretrain')


def _build(name):
    from mmsola.checks.config import build_model
    torch.manual_seed(0)
    return build_model(load(name))  # random init, eval mode; no checkpoint is read


def test_tiny_upernet_segments_an_image():
    model = _build('upernet_sola_t_ade20k.py')
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, 150, 16, 16)  # UperHead predicts at stride 4
    assert torch.isfinite(logits).all()


def test_tiny_mask_rcnn_detects_and_segments_an_image():
    from mmdet.structures import DetDataSample
    assert load('mask_rcnn_sola_t_fpn_3x_coco.py').model == \
        load('mask_rcnn_sola_t_fpn_1x_coco.py').model, '1x and 3x differ only in the schedule'
    model = _build('mask_rcnn_sola_t_fpn_1x_coco.py')
    sample = DetDataSample(metainfo=dict(img_shape=(64, 96), ori_shape=(64, 96),
                                         scale_factor=(1., 1.), batch_input_shape=(64, 96)))
    with torch.no_grad():
        features = model.extract_feat(torch.rand(1, 3, 64, 96))
        result = model.predict(torch.rand(1, 3, 64, 96), [sample])[0].pred_instances
    # FPN: strides 4..64, 256 channels each
    assert [tuple(f.shape) for f in features] == [(1, 256, 16, 24), (1, 256, 8, 12),
                                                  (1, 256, 4, 6), (1, 256, 2, 3),
                                                  (1, 256, 1, 2)]
    assert result.bboxes.shape[1] == 4 and len(result.labels) == len(result.scores)
    assert result.masks.shape[1:] == (64, 96)


def test_tiny_classifier_scores_1000_classes():
    model = _build('sola_t_in1k.py')
    with torch.no_grad():
        logits = model(torch.rand(2, 3, 64, 64), mode='tensor')
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()


def _check_backbone(backbone, arch):
    from mmsola.models import SoLAVision
    expected = SoLAVision.resolve_arch(arch)
    assert type(backbone).__name__ == 'SoLAVision'
    for key in ('embed_dims', 'depths', 'num_heads', 'layer_pattern'):
        assert backbone.arch_settings[key] == expected[key], key


@pytest.mark.parametrize('name', [n for n in SEG + DET + CLS
                                  if '_t_' not in n and '_3x_' not in n])
def test_small_and_base_models_are_wired_to_their_backbone(name):
    cfg = load(name)
    model = build_on_meta(cfg)
    backbone = model.backbone
    _check_backbone(backbone, arch_of(name))
    channels = [backbone.num_features[i] for i in backbone.out_indices]
    if name in SEG:
        assert list(model.decode_head.in_channels) == channels
        aux = model.auxiliary_head
        assert aux.in_channels == channels[aux.in_index]
    elif name in DET:
        assert list(model.neck.in_channels) == channels
    else:
        assert backbone.out_indices == (3, )
        assert model.head.in_channels == channels[-1]
        assert model.head.num_classes == 1000
    assert all(p.is_meta for p in model.parameters())
