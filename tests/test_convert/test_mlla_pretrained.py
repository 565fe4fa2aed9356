"""MLLA's files and URLs as SoLAVision's ``Pretrained`` checkpoint, and in ``load_from``.

A loopback HTTP server (127.0.0.1, a free port; no internet) serves MLLA-layout files made
from tests/data/mlla_fixture.pth, torch's hub cache lives in tmp_path (TORCH_HOME): what a
build from the URL loads is what ``mlla2sola.py`` writes, MLLA's outputs for an all-'L'
pattern; a second build with the server stopped uses the cache; a 404, a truncated or a
non-checkpoint body is one error naming the URL, with nothing left in the cache.
"""
import http.server
import io
import os
import threading

import pytest
import torch
from torch import nn

from mmsola.checkpoint import CheckpointDownloadError, cache_path, register_download_host
from mmsola.checkpoint.download import cache_file_name
from mmsola.cli import run_tool
from mmsola.convert import ConversionError, convert_mlla_checkpoint
from mmsola.convert.mlla_weights import IN1K, MASK_RCNN, PUBLISHED
from mmsola.models import SoLAVision
from tests.support.tool_runs import load_tool
from tests.test_models.test_mlla_parity import (
    FIXTURE,
    _assert_matches,
    arch_of,
    backbone_part,
    dense_file,
)
from tests.test_tools.test_mlla2sola import _save_with_fake_yacs, training_file

mlla2sola = load_tool('model_converters/mlla2sola')
PATTERN = ['L', 'L', 'LS', 'S']  # the fixture's depths (1, 1, 2, 1), two 'S' blocks


@pytest.fixture(scope='module')
def mlla(one_torch_thread):
    return torch.load(FIXTURE, map_location='cpu', weights_only=True)


def _training_file_bytes(mlla) -> bytes:
    """An MLLA classification training file, with its yacs config object, as bytes."""
    buffer = io.BytesIO()

    def checkpoint(CfgNode):
        config = CfgNode({'MODEL': CfgNode({'TYPE': 'mlla', 'MLLA': CfgNode(
            {'EMBED_DIM': 8, 'DEPTHS': [1, 1, 2, 1], 'NUM_HEADS': [1, 1, 2, 2]})})})
        return dict(training_file(mlla), config=config)

    _save_with_fake_yacs(checkpoint, buffer)
    return buffer.getvalue()


def _bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class Server:
    """``http.server`` in a thread on 127.0.0.1: ``routes`` maps a path to (status, body,
    announced length or None for the body's own)."""

    def __init__(self, routes):
        self.routes, self.hits = routes, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (http.server's name)
                server.hits.append(self.path)
                status, body, length = server.routes.get(self.path, (404, b'not found', None))
                self.send_response(status)
                self.send_header('Content-Length', str(length or len(body)))
                self.end_headers()
                self.wfile.write(body)  # fewer bytes than announced: a download cut short

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.base = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        if self.thread is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.thread = None


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    return tmp_path / 'torch' / 'hub' / 'checkpoints'


@pytest.fixture
def server(mlla):
    training = _training_file_bytes(mlla)
    server = Server({
        '/f/mllafixture/?dl=1': (200, training, None),
        '/f/mlladense/?dl=1': (200, _bytes(dense_file(mlla)), None),
        '/f/cutshort/?dl=1': (200, training[:len(training) // 2], len(training)),
        '/f/halffile/?dl=1': (200, training[:len(training) // 2], None),
        '/f/webpage/?dl=1': (200, b'<html><body>Sign in to download</body></html>', None),
    })
    yield server
    server.stop()


def _built(checkpoint, pattern=PATTERN, mlla=None, out_indices=(0, 1, 2, 3)) -> SoLAVision:
    model = SoLAVision(arch=arch_of(mlla, pattern), out_indices=out_indices, drop_path_rate=0.,
                       attn_backend='torch',
                       init_cfg=dict(type='Pretrained', checkpoint=checkpoint,
                                     prefix='backbone.'))
    model.init_weights()
    return model.eval()


def _tool_output(src, tmp_path, mlla, pattern=PATTERN) -> dict:
    """What ``mlla2sola.py SRC DST --backbone-only --pattern P`` writes (the fixture is no
    preset, so its arch is given as the dict ``--arch`` would name)."""
    dst = tmp_path / 'converted.pth'
    args = mlla2sola.parse_args([str(src), str(dst), '--backbone-only', '--pattern',
                                 '/'.join(pattern), '--force'])
    args.arch = arch_of(mlla)
    mlla2sola.run(args)
    return backbone_part(torch.load(dst, weights_only=True)['state_dict'])


def _assert_same_tensors(model: nn.Module, expected: dict) -> None:
    own = model.state_dict()
    assert {k for k in own if not k.endswith('num_batches_tracked')} <= set(expected)
    for key, value in own.items():
        if not key.endswith('num_batches_tracked'):
            assert torch.equal(value, expected[key].to(value.dtype)), key


@pytest.fixture
def logged(monkeypatch):
    lines = []
    import mmengine.logging
    original = mmengine.logging.print_log

    def record(msg, *args, **kwargs):
        lines.append(str(msg))
        return original(msg, *args, **kwargs)

    monkeypatch.setattr(mmengine.logging, 'print_log', record)
    return lines


# --------------------------------------------------------------------------- from a URL
def test_url_pretrained_is_the_converter_tools_output_and_is_cached(
        mlla, server, torch_home, tmp_path, logged):
    url = server.url('/f/mllafixture/?dl=1')
    model = _built(url, mlla=mlla)
    cached = torch_home / 'mllafixture.pth'
    assert cached.is_file() and os.listdir(torch_home) == ['mllafixture.pth']
    assert cache_path(url) == str(cached)
    _assert_same_tensors(model, _tool_output(cached, tmp_path, mlla))
    summary = next(line for line in logged if 'MLLA classifier backbone weights' in line)
    assert "exact for the 'L' blocks" in summary
    assert "WARM START" in summary and 'stages.2.blocks.1, stages.3.blocks.0' in summary

    server.stop()  # offline from here on: the second build reads the cache
    again = _built(url, mlla=mlla)
    _assert_same_tensors(again, model.state_dict())
    assert server.hits == ['/f/mllafixture/?dl=1']


def test_all_linear_pattern_from_a_url_computes_mllas_outputs(mlla, server, torch_home):
    model = _built(server.url('/f/mlladense/?dl=1'), pattern=None, mlla=mlla)
    with torch.no_grad():
        for image, maps in zip(mlla['dense_inputs'], mlla['dense_outputs']):
            for i, (out, ref) in enumerate(zip(model(image.float()), maps)):
                _assert_matches(out, ref, f'stage {i} at {tuple(image.shape[2:])}')


def test_a_local_mlla_file_works_the_same(mlla, tmp_path, torch_home):
    path = tmp_path / 'MLLA_fixture.pth'
    path.write_bytes(_training_file_bytes(mlla))
    model = _built(str(path), mlla=mlla)
    _assert_same_tensors(model, _tool_output(path, tmp_path, mlla))
    assert not torch_home.exists()


def test_a_wrong_arch_is_the_converters_error(mlla, tmp_path):
    path = tmp_path / 'MLLA_fixture.pth'
    path.write_bytes(_training_file_bytes(mlla))
    wider = dict(arch_of(mlla), embed_dims=16)
    model = SoLAVision(arch=wider, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ConversionError, match=r'(?s)MLLA_fixture\.pth.*embed_dims=16.*'
                       r'the checkpoint has embed_dims=8.*choose the matching arch'):
        model.init_weights()


# ------------------------------------------------------------------------ failed downloads
@pytest.mark.parametrize('path, words', [
    ('/f/gone/?dl=1', r'the server answered 404'),
    ('/f/cutshort/?dl=1', r'did not give a whole checkpoint.*truncated'),
    ('/f/halffile/?dl=1', r'did not give a whole checkpoint.*truncated'),
    ('/f/webpage/?dl=1', r'did not give a whole checkpoint.*not a checkpoint written by '
                         r'torch\.save'),
])
def test_a_failed_download_is_one_error_and_leaves_the_cache_empty(
        mlla, server, torch_home, path, words):
    url = server.url(path)
    with pytest.raises(CheckpointDownloadError, match=rf'(?s){words}') as err:
        _built(url, mlla=mlla)
    assert url in str(err.value)
    assert not torch_home.exists() or os.listdir(torch_home) == []


def test_offline_and_not_cached_says_where_the_file_goes_and_the_ways_out(
        mlla, torch_home, capsys):
    server = Server({})
    url = server.url('/f/mllafixture/?dl=1')
    server.stop()  # nothing listens on the port any more
    status = run_tool('train.py', lambda: _built(url, mlla=mlla))
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith('train.py: error: ')
    assert url in err and str(torch_home / 'mllafixture.pth') in err
    assert 'copy the checkpoint there' in err and 'to a local file' in err
    assert not torch_home.exists() or os.listdir(torch_home) == []
    from mmsola.errors import UserError
    assert issubclass(CheckpointDownloadError, UserError)  # one line in every tool


# ------------------------------------------------------- load_from (mmengine's loaders)
def test_load_from_an_mlla_url_loads_a_classifier_with_its_head(mlla, server, torch_home):
    """mmengine's load_checkpoint (what Runner's load_from runs) with an MLLA classifier's
    URL: the backbone converted for the model's pattern, MLLA's head in head.fc."""
    pytest.importorskip('mmpretrain')
    from mmengine.runner.checkpoint import load_checkpoint

    from mmsola.models.classifiers.sola_vision_cls import build_sola_vision_cls
    register_download_host(server.base + '/f/')
    model = build_sola_vision_cls(arch=arch_of(mlla, PATTERN), num_classes=10,
                                  backbone=dict(drop_path_rate=0.))
    load_checkpoint(model, server.url('/f/mllafixture/?dl=1'), strict=True)
    expected, _ = convert_mlla_checkpoint(training_file(mlla), layer_pattern=PATTERN,
                                          arch=arch_of(mlla))
    for key, value in model.state_dict().items():
        if not key.endswith('num_batches_tracked') and not key.startswith('data_preprocessor'):
            assert torch.equal(value, expected['state_dict'][key]), key


class _Detector(nn.Module):
    """A dense model's outline: a SoLAVision ``backbone`` and a head of its own."""

    def __init__(self, arch):
        super().__init__()
        self.backbone = SoLAVision(arch=arch, out_indices=(0, 1, 2, 3))
        self.neck = nn.Linear(4, 2)


def test_load_from_an_mlla_downstream_file_converts_its_backbone(mlla, tmp_path):
    """A downstream (mmdet / mmseg) MLLA file through mmengine's load_checkpoint, as
    tools/test.py loads its checkpoint: the backbone converted, the rest kept."""
    from mmengine.runner.checkpoint import load_checkpoint
    state = dict(dense_file(mlla)['state_dict'])
    state.update({'neck.weight': torch.ones(2, 4), 'neck.bias': torch.zeros(2)})
    path = tmp_path / 'mlla_mask_rcnn.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=12)), path)
    model = _Detector(arch_of(mlla, PATTERN))
    load_checkpoint(model, str(path), strict=True)
    expected, _ = convert_mlla_checkpoint(dense_file(mlla), layer_pattern=PATTERN,
                                          arch=arch_of(mlla))
    _assert_same_tensors(model.backbone, backbone_part(expected['state_dict']))
    assert torch.equal(model.neck.weight, torch.ones(2, 4))


# ---------------------------------------------------------------------------- the table
def test_the_table_names_readable_cache_files_for_mllas_urls():
    assert len({w.url for w in PUBLISHED}) == len({w.file_name for w in PUBLISHED}) == 9
    assert cache_file_name(IN1K['tiny'].url) == 'mlla_t_in1k.pth'
    assert cache_file_name(MASK_RCNN['tiny', '1x'].url) == 'mlla_t_mask_rcnn_1x_coco.pth'
    assert all(w.url.startswith('https://cloud.tsinghua.edu.cn/f/') and w.url.endswith('?dl=1')
               for w in PUBLISHED)
    # mmengine's loaders fetch them through mmsola (the Runner's load_from, tools/test.py)
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmsola.checkpoint.download import load_url_checkpoint
    assert CheckpointLoader._get_checkpoint_loader(IN1K['base'].url) is load_url_checkpoint


def test_tool_check_accepts_a_url_and_names_a_missing_local_path():
    from mmengine.config import Config

    from mmsola.checks import CheckpointError, check_pretrained
    init = dict(type='Pretrained', checkpoint=IN1K['tiny'].url, prefix='backbone.')
    cfg = Config(dict(model=dict(backbone=dict(type='SoLAVision', init_cfg=init))))
    check_pretrained(cfg)  # a URL is checked when it is fetched
    cfg.model.backbone.init_cfg.checkpoint = 'checkpoints/nope.pth'
    with pytest.raises(CheckpointError, match=r"model\.backbone\.init_cfg\.checkpoint="
                       r"'checkpoints/nope\.pth': no such file"):
        check_pretrained(cfg)



@pytest.mark.parametrize('pattern', ['all L', 'default'])
def test_test_tool_check_accepts_mllas_mask_rcnn_file(pattern, tmp_path):
    """``tools/test.py configs/mask_rcnn_sola_t_fpn_1x_coco.py <MLLA's Mask R-CNN file>``:
    its pre-run check compares the file as the load converts it (full-size MLLA-T key set,
    tests/support/mlla_checkpoints.py), for the all-'L' pattern and the default hybrid one."""
    pytest.importorskip('mmdet')
    from mmsola.checks import CheckpointError, check_checkpoint
    from tests.support.configs import load
    from tests.support.mlla_checkpoints import mlla_t_mask_rcnn_shapes, shared_storage_state
    shapes = mlla_t_mask_rcnn_shapes()
    path = tmp_path / 'mlla_t_mask_rcnn_1x_coco.pth'
    torch.save(dict(state_dict=shared_storage_state(shapes), meta=dict(epoch=12)), path)
    cfg = load('mask_rcnn_sola_t_fpn_1x_coco.py')
    cfg.model.backbone.init_cfg = None
    if pattern == 'all L':
        cfg.model.backbone.layer_pattern = ['L' * n for n in SoLAVision.arch_zoo['tiny']['depths']]
    check_checkpoint(cfg, str(path), what='checkpoint')
    del shapes['roi_head.mask_head.conv_logits.weight']
    torch.save(dict(state_dict=shared_storage_state(shapes)), path)
    with pytest.raises(CheckpointError, match=r'(?s)missing.*conv_logits\.weight'):
        check_checkpoint(cfg, str(path), what='checkpoint')


def test_test_tool_evaluates_mllas_mask_rcnn_from_its_url(tmp_path, torch_home, logged):
    """``tools/test.py configs/mask_rcnn_sola_t_fpn_1x_coco.py <URL> --cfg-options
    model.backbone.layer_pattern=<all 'L'>`` on a tiny COCO: MLLA-T's Mask R-CNN key set (mmdet
    2.x layout, full size, zero weights) is fetched into the cache under its table-style name,
    converted on load and evaluated."""
    pytest.importorskip('mmdet')
    from tests.support import tool_runs
    from tests.support.fake_data import write_coco
    from tests.support.mlla_checkpoints import mlla_t_mask_rcnn_shapes, shared_storage_state
    shapes = mlla_t_mask_rcnn_shapes()
    server = Server({'/f/maskrcnn/?dl=1': (200, _bytes(dict(
        state_dict=shared_storage_state(shapes), meta=dict(epoch=12))), None)})
    try:
        url = server.url('/f/maskrcnn/?dl=1')
        register_download_host(server.base + '/f/', {url: 'mlla_t_mask_rcnn_1x_coco.pth'})
        config = 'configs/mask_rcnn_sola_t_fpn_1x_coco.py'
        options = tool_runs.tiny_options(
            config, write_coco(tmp_path / 'coco', num_train=1, num_val=1), tmp_path / 'work',
            extra=["model.backbone.layer_pattern=['LL','LLLL','LLLLLLLL','LLLL']",
                   'model.test_cfg.rcnn.score_thr=0.0', 'model.test_cfg.rcnn.max_per_img=5'])
        metrics = tool_runs.test(config, url, options)
    finally:
        server.stop()
    assert 'coco/bbox_mAP' in metrics and 'coco/segm_mAP' in metrics
    assert os.listdir(torch_home) == ['mlla_t_mask_rcnn_1x_coco.pth']
    summary = next(line for line in logged if 'MLLA downstream weights' in line)
    assert "no 'S' block, so the model computes what MLLA computes" in summary


def test_the_mlla_fine_tune_trains_from_mllas_url(tmp_path, torch_home, logged):
    """``tools/train.py configs/sola_t_mlla-ft_in1k.py`` with its load_from on the loopback
    server: MLLA-T's classification training file (full-size key set, its yacs config) is
    fetched, converted on load for the hybrid pattern (model and EMA model) and trained."""
    pytest.importorskip('mmpretrain')
    from tests.support import tool_runs
    from tests.support.fake_data import write_imagenet
    from tests.support.mlla_checkpoints import mlla_shapes, shared_storage_state
    tiny = SoLAVision.arch_zoo['tiny']
    model = shared_storage_state(mlla_shapes(tiny['embed_dims'], tiny['depths']))
    body = io.BytesIO()
    _save_with_fake_yacs(lambda CfgNode: dict(model=model, epoch=299, config=CfgNode(
        {'MODEL': CfgNode({'MLLA': CfgNode({'EMBED_DIM': 64})})})), body)
    server = Server({'/f/mllat/?dl=1': (200, body.getvalue(), None)})
    try:
        url = server.url('/f/mllat/?dl=1')
        register_download_host(server.base + '/f/')
        config = 'configs/sola_t_mlla-ft_in1k.py'
        options = tool_runs.tiny_options(
            config, write_imagenet(tmp_path / 'imagenet', num_classes=2), tmp_path / 'work',
            extra=[f'load_from={url}'])
        tool_runs.train(config, options)
    finally:
        server.stop()
    assert os.listdir(torch_home) == ['mllat.pth']
    summaries = [line for line in logged if 'MLLA classifier backbone weights' in line]
    assert len(summaries) == 2  # the model and its EMA copy
    assert "WARM START (fine-tune before use) for the 3 'S' blocks" in summaries[0]


def test_a_download_host_must_name_its_host():
    with pytest.raises(ValueError, match='with its host'):
        register_download_host('https://')
