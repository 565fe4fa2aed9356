"""ERF (mmsola.analysis.erf, tools/analysis/erf.py): the RepLKNet recipe, exact on conv toys;
block taps of SoLA-Vision; image sources; the tool's CSV, PNG and maps."""
import csv
import sys

import numpy as np
import pytest
import torch
from torch import nn

from mmsola.analysis.erf import (
    BlockTaps,
    ImageSource,
    area_ratio,
    area_ratios,
    block_depth,
    depth_points,
    final_point,
    load_weights,
    mean_contributions,
    model_list,
    normalise,
    read_weights,
)
from mmsola.models import SoLAVision
from mmsola.utils.backbone import BackboneFactory
from tests.support.small_models import small_backbone
from tests.support.tool_runs import run_cli


def depthwise(seed: int) -> nn.Conv2d:
    conv = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(3, 1, 3, 3, generator=torch.Generator().manual_seed(seed)))
    return conv


def test_erf_of_a_depthwise_3x3_is_its_footprint():
    """A = sum_c [F_c(centre) > 0] ReLU(w_c), on the 3x3 around the centre, 0 elsewhere."""
    conv = depthwise(0)
    gen = torch.Generator().manual_seed(1)
    images = [torch.randn(1, 3, 9, 11, generator=gen) for _ in range(3)]
    maps, used, skipped = mean_contributions(lambda x: {'out': conv(x)}, images)
    expected = torch.zeros(9, 11, dtype=torch.float64)
    for x in images:
        alive = (conv(x)[0, :, 4, 5] > 0).double().view(3, 1, 1)
        expected[3:6, 4:7] += (alive * conv.weight[:, 0].double().clamp(min=0)).sum(0)
    torch.testing.assert_close(maps['out'], expected / 3)
    assert (used, skipped) == (3, 0)
    assert (maps['out'][3:6, 4:7] > 0).sum() >= 5  # most of the footprint carries weight
    data = normalise(maps['out'])
    assert data.max() == 1 and area_ratio(data, 1.0) == (3, 9 / 99)


def test_two_stacked_3x3_reach_exactly_5x5():
    net = nn.Sequential(depthwise(2), nn.ReLU(), depthwise(3))
    with torch.no_grad():
        for m in (net[0], net[2]):
            m.weight.abs_()  # positive weights: every path contributes
    images = [torch.rand(1, 3, 15, 15) + 0.1]
    a = mean_contributions(lambda x: {'out': net(x)}, images)[0]['out']
    support = (a > 0).nonzero()
    assert support.min(0).values.tolist() == [5, 5] and support.max(0).values.tolist() == [9, 9]
    assert int((a > 0).sum()) == 25


def test_area_ratio_smallest_centred_square():
    data = torch.zeros(9, 9, dtype=torch.float64)
    data[4, 4] = 8.
    data[3:6, 3:6] += 1.  # centre 9, ring of 8 ones: total 17
    assert area_ratio(data, 9 / 17) == (1, 1 / 81)
    assert area_ratio(data, 0.6) == (3, 9 / 81)
    assert area_ratio(torch.ones(4, 6), 1.0) == (7, 1.0)  # clipped to the image
    assert np.isnan(area_ratio(torch.zeros(3, 3), 0.5)[1])
    ratios = area_ratios(normalise(torch.rand(16, 16)))
    assert list(ratios) == [0.2, 0.3, 0.5, 0.99]
    assert all(a <= b for a, b in zip(list(ratios.values()), list(ratios.values())[1:]))
    with pytest.raises(ValueError, match='threshold'):
        area_ratio(data, 0)


def test_block_taps_give_the_block_outputs_and_stop_early():
    backbone = small_backbone().eval()  # L / LS / LH / S, widths 16..128
    x = torch.randn(1, 3, 64, 64)
    late = []
    backbone.stages[3].blocks[0].register_forward_hook(lambda *a: late.append(1))
    maps = BlockTaps(backbone, [(2, 1), (1, 0)])(x)
    assert sorted(maps) == [(1, 0), (2, 1)] and not late  # stage 4 never ran
    assert maps[(2, 1)].shape == (1, 64, 4, 4)
    last = BlockTaps(backbone, [final_point(backbone)])(x)[(3, 0)]
    with torch.no_grad():
        out = backbone(x)[-1]  # norm3 of the same map
    torch.testing.assert_close(backbone.norm3(last.permute(0, 2, 3, 1)).permute(0, 3, 1, 2),
                               out)
    assert depth_points(backbone) == [(2, 0), (2, 1), (3, 0)]
    assert [block_depth(backbone, p) for p in depth_points(backbone)] == [4, 5, 6]
    with pytest.raises(ValueError, match='no block 2 in stage 3'):
        BlockTaps(backbone, [(3, 2)])


def test_image_sources(tmp_path):
    from PIL import Image
    folder = tmp_path / 'imgs'
    folder.mkdir()
    Image.new('RGB', (40, 30), (124, 116, 104)).save(folder / 'a.png')  # ~ the mean colour
    Image.new('RGB', (20, 20), (255, 0, 0)).save(folder / 'b.jpg')
    (folder / 'notes.txt').write_text('not an image')
    src = ImageSource(str(folder), 5, 16)
    batches = list(src)
    assert len(src) == 2 and 'of 2' in src.description and str(folder) in src.description
    assert batches[0].shape == (1, 3, 16, 16) and batches[0].abs().max() < 0.01
    assert batches[1][0, 0].min() > 2 and batches[1][0, 1].max() < -1  # red, normalised
    noise = ImageSource(None, 2, 8, seed=3)
    assert 'random noise' in noise.description
    first, again = list(noise), list(noise)
    assert torch.equal(first[1], again[1]) and not torch.equal(first[0], first[1])
    with pytest.raises(FileNotFoundError, match="'demo' for the demo images"):
        ImageSource(str(tmp_path / 'missing'), 1, 8)
    with pytest.raises(FileNotFoundError, match='holds no image'):
        ImageSource(str(tmp_path), 1, 8)


def test_demo_images(tmp_path):
    from demo import build_demo_dataset
    with pytest.raises(FileNotFoundError, match='python -m demo.make_dataset'):
        ImageSource('demo', 2, 16, demo_root=str(tmp_path / 'demo'))
    root = build_demo_dataset(tmp_path / 'demo', num_train=3, num_val=3, image_size=32,
                              progress=False)
    src = ImageSource('demo', 2, 16, demo_root=str(root))
    assert len(src) == 2 and src.description.startswith('demo images')
    assert str(root / 'images' / 'validation') in src.description


def test_checkpoint_loads_into_the_backbone(tmp_path):
    """A classifier-style checkpoint (``backbone.`` keys) gives its weights to the backbone."""
    pattern = ['L', 'L', 'L', 'S']
    torch.manual_seed(1)
    trained = SoLAVision('tiny', layer_pattern=pattern)
    path = tmp_path / 'cls.pth'
    classifier = torch.nn.Module()
    classifier.backbone = trained  # its state dict, as a classifier saves it (with metadata)
    torch.save({'state_dict': classifier.state_dict()}, path)
    fresh = BackboneFactory('tiny', drop_path_rate=0.).build(pattern)
    load_weights(fresh, read_weights([str(path)])[str(path)], str(path))
    for k, v in trained.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k


def test_tool_compares_patterns_per_depth(tmp_path):
    """The tool as a user runs it (a fresh process)."""
    out = tmp_path / 'erf'
    done = run_cli([sys.executable, 'tools/analysis/erf.py', '--compare', '--layer-pattern',
                    'L/L/LS/LS', '--per-depth', '--size', '32', '--num-images', '1',
                    '--device', 'cpu', '--threads', '1', '--out-dir', str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    stdout = done.stdout
    assert 'ERF on random noise' in stdout
    with open(out / 'erf.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['model'], r['layer_pattern']) for r in rows[::4]] == [
        ('all-linear', 'L/L/LL/LL'), ('hybrid', 'L/L/LS/LS'), ('all-softmax', 'S/S/SS/SS')]
    assert [(r['stage'], r['block'], r['depth'], r['kind']) for r in rows[4:8]] == [
        ('3', '1', '3', 'L'), ('3', '2', '4', 'S'), ('4', '1', '5', 'L'), ('4', '2', '6', 'S')]
    for r in rows:
        assert r['images'].startswith('random noise') and r['num_images'] == '1'
        assert r['weights'] == 'random init (seed 0)' and r['input_size'] == '32'
        assert 0 < float(r['r_0.2']) <= float(r['r_0.5']) <= float(r['r_0.99']) <= 1
    png = (out / 'erf.png').read_bytes()
    assert png.startswith(b'\x89PNG') and b'Matplotlib' in png
    maps = np.load(out / 'erf_maps.npz')  # mean contribution A of the last-stage maps
    assert sorted(maps.files) == ['all-linear', 'all-softmax', 'hybrid']
    for a in maps.values():
        assert a.shape == (32, 32) and a.min() >= 0 and a.max() > 0


def test_model_list_pairs_patterns_with_checkpoints():
    default = SoLAVision.resolve_arch('tiny')['layer_pattern']
    models = model_list(['L/L/LS/LS'], True, ['a.pth', 'none', 'c.pth'], default)
    assert models == [('all-linear', ['L', 'L', 'LL', 'LL'], 'a.pth'),
                      ('hybrid', ['L', 'L', 'LS', 'LS'], None),
                      ('all-softmax', ['S', 'S', 'SS', 'SS'], 'c.pth')]
    assert model_list(None, False, None, default) == [('default', None, None)]
    with pytest.raises(ValueError, match='2 checkpoints for 3 models'):
        model_list(None, True, ['a.pth', 'b.pth'], default)
