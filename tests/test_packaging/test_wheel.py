"""mmsola's configs and model index work from an installed (not editable) wheel.

The repo is copied (the files an sdist is made from), made into an sdist (so MANIFEST.in must
carry what setup.py needs), the sdist into a wheel, the wheel installed into a folder with
``pip --target``. A subprocess with only that folder on PYTHONPATH, outside the repo, then
loads a user's configs that inherit ``mmsola::upernet/upernet_sola_t_ade20k.py`` (mmengine's
``<package>::<folder>/<file>`` form) the way a downstream project would, and reads the model
index and metafiles from the installed package.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from mmsola.version import SUPPORTED_VERSIONS, requirement

pytest.importorskip('mmseg')
pytest.importorskip('mmdet')
pytest.importorskip('mmpretrain')

pytestmark = pytest.mark.slow  # about 20 s: sdist, wheel, install, configs of three toolkits

REPO_ROOT = Path(__file__).resolve().parents[2]
# what setup.py and MANIFEST.in read to make the sdist, and the folders beside the package that
# must stay out of the wheel (the demo, the projects, the tools)
SOURCES = ['setup.py', 'MANIFEST.in', 'README.md', 'LICENSE', 'model-index.yml', 'requirements',
           'configs', 'mmsola', 'demo', 'projects', 'tools']


def run(cmd, cwd, **kwargs):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f'{cmd} failed:\n{result.stdout}\n{result.stderr}'
    return result


@pytest.fixture(scope='module')
def wheel_install(tmp_path_factory):
    """(the wheel file, the folder it is installed in)."""
    work = tmp_path_factory.mktemp('mmsola_wheel')
    src = work / 'src'
    src.mkdir()
    ignore = shutil.ignore_patterns('__pycache__', '.mim', '*.egg-info')
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    run([sys.executable, 'setup.py', '-q', 'sdist', '-d', str(work / 'sdist')], src)
    (sdist, ) = (work / 'sdist').glob('mmsola-*.tar.gz')
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    run(pip + ['wheel', '-q', '--no-deps', '--no-build-isolation', '--no-index',
               '-w', str(work / 'dist'), str(sdist)], work)
    (wheel, ) = (work / 'dist').glob('mmsola-*.whl')
    site = work / 'site'
    run(pip + ['install', '-q', '--no-deps', '--no-index', '--target', str(site), str(wheel)],
        work)
    return wheel, site


USER_CHECK = textwrap.dedent('''
    import importlib, json, sys
    from pathlib import Path

    import yaml
    import mmsola
    from mmengine.config import Config
    from mmengine.hub import get_config
    from mmengine.registry import HOOKS, init_default_scope

    site, repo = Path(sys.argv[1]), Path(sys.argv[2])
    assert Path(mmsola.__file__).is_relative_to(site), mmsola.__file__
    assert not any(p and Path(p).resolve() == repo for p in sys.path), sys.path

    # a user's own configs, one per family; the segmentor's model is mmseg-scoped, the
    # classifier's (a type of mmsola's) mmsola-scoped
    out = {}
    for family, config, extra, registry in [
            ('upernet', 'upernet_sola_t_ade20k.py',
             'model = dict(decode_head=dict(num_classes=19))', 'mmseg'),
            ('sola', 'sola_s_in1k.py', 'model = dict(num_classes=10)', 'mmpretrain'),
            ('mask_rcnn', 'mask_rcnn_sola_t_fpn_3x_coco.py', '', None)]:
        Path(f'my_{family}.py').write_text(f"_base_ = 'mmsola::{family}/{config}'\\n{extra}\\n")
        cfg = Config.fromfile(f'my_{family}.py')
        out[family] = dict(type=cfg.model.type, scope=cfg.default_scope,
                           arch=cfg.model.get('arch') or cfg.model.backbone.arch,
                           imports=cfg.custom_imports.imports)
        out[family]['get_config'] = get_config(f'mmsola::{family}/{config}').model.type
        try:  # mmengine 0.10 requires the folder
            get_config(f'mmsola::{config}')
            out[family]['flat'] = 'loaded'
        except ValueError as e:
            out[family]['flat'] = str(e)
        if registry:
            init_default_scope(cfg.default_scope)
            hooks = [HOOKS.build(h) for h in [*cfg.custom_hooks, cfg.default_hooks.checkpoint]]
            model = importlib.import_module(f'{registry}.registry').MODELS.build(cfg.model)
            out[family].update(
                hooks=[type(h).__name__ for h in hooks], model=type(model).__name__,
                backbone_file=sys.modules[type(model.backbone).__module__].__file__,
                classes=(model.decode_head.num_classes if family == 'upernet'
                         else model.head.num_classes))

    # the model index and metafiles, read from the installed package
    mim = Path(mmsola.__file__).parent / '.mim'
    index = yaml.safe_load((mim / 'model-index.yml').read_text())
    models = []
    for metafile in index['Import']:
        family = Path(metafile).parent.name
        for model in yaml.safe_load((mim / metafile).read_text())['Models']:
            models.append(dict(name=model['Name'], family=family,
                               config=model['Config'],
                               config_shipped=(mim / model['Config']).is_file(),
                               params=model['Metadata']['Parameters'],
                               flops=model['Metadata']['FLOPs']))
    out['models'] = models
    # what `mim search mmsola` reads (openmim's load_metadata_from_local: modelindex's load of
    # <installed package>/.mim/model-index.yml)
    from modelindex.load_model_index import load
    out['mim_models'] = [dict(name=m.name, params=m.metadata.parameters, flops=m.metadata.flops)
                         for m in load(str(mim / 'model-index.yml')).models]
    print('RESULT ' + json.dumps(out))
''')


@pytest.fixture(scope='module')
def user_project(wheel_install, tmp_path_factory):
    """What the user's project saw (the JSON of USER_CHECK) and everything it printed."""
    _, site = wheel_install
    user = tmp_path_factory.mktemp('user_project')
    (user / 'check.py').write_text(USER_CHECK)
    env = dict(os.environ, PYTHONPATH=str(site))  # only the installed wheel, not the repo
    result = run([sys.executable, 'check.py', str(site), str(REPO_ROOT)], user, env=env,
                 timeout=300)
    line = [x for x in result.stdout.splitlines() if x.startswith('RESULT ')][-1]
    return json.loads(line[len('RESULT '):]), result.stdout + result.stderr


def test_the_wheel_holds_the_configs_and_the_model_index(wheel_install):
    wheel, _ = wheel_install
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f'mmsola/.mim/configs/{p.relative_to(REPO_ROOT / "configs")}'
               for p in (REPO_ROOT / 'configs').rglob('*') if p.suffix in ('.py', '.yml')}
    assert 'mmsola/.mim/model-index.yml' in names
    missing = shipped - names
    assert not missing, f'configs missing from the wheel: {sorted(missing)}'


def test_the_wheel_holds_the_library_only(wheel_install):
    """demo/ and projects/ are Python packages beside mmsola, not shipped with it."""
    wheel, _ = wheel_install
    tops = {n.split('/')[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith('.dist-info')} == {'mmsola'}, sorted(tops)


def test_the_wheel_requires_the_supported_ranges(wheel_install):
    wheel, _ = wheel_install
    with zipfile.ZipFile(wheel) as z:
        (meta, ) = [n for n in z.namelist() if n.endswith('.dist-info/METADATA')]
        requires = Parser().parsestr(z.read(meta).decode()).get_all('Requires-Dist')
    found = {Requirement(r).name: Requirement(r).specifier for r in requires}
    for name, (dist, _, _) in SUPPORTED_VERSIONS.items():
        assert found[dist] == Requirement(requirement(name)).specifier, dist


def test_a_users_config_inherits_mmsola_configs(user_project):
    seen, _ = user_project
    upernet, sola = seen['upernet'], seen['sola']
    assert {k: upernet[k] for k in ('type', 'arch', 'scope', 'imports', 'model', 'classes')} == \
        dict(type='EncoderDecoder', arch='tiny', scope='mmseg', imports=['mmsola'],
             model='EncoderDecoder', classes=19)
    assert upernet['hooks'] == ['RNGStateHook', 'FiniteLossHook', 'DatasetCheckHook',
                                'AtomicCheckpointHook']
    assert {k: sola[k] for k in ('type', 'arch', 'scope', 'model', 'classes')} == \
        dict(type='SoLAVisionCls', arch='small', scope='mmpretrain', model='ImageClassifier',
             classes=10)
    assert 'EMAHook' in sola['hooks'] and 'RNGStateHook' in sola['hooks']
    for built in (upernet, sola):  # the installed copy, not the repo's
        assert '/site/mmsola/models/' in built['backbone_file'], built['backbone_file']
    assert {k: seen['mask_rcnn'][k] for k in ('type', 'arch', 'scope', 'imports')} == \
        dict(type='MaskRCNN', arch='tiny', scope='mmdet', imports=['mmsola'])


def test_get_config_takes_the_folder_form_and_mmengine_refuses_the_flat_one(user_project):
    seen, _ = user_project
    for family, model_type in [('upernet', 'EncoderDecoder'), ('sola', 'SoLAVisionCls'),
                               ('mask_rcnn', 'MaskRCNN')]:
        assert seen[family]['get_config'] == model_type, family
        assert 'relative config path' in seen[family]['flat'], family


def test_mmsola_scoped_parts_build_without_registry_warnings(user_project):
    _, printed = user_project
    for warning in ('is not installed', 'Failed to search registry', 'Failed to import'):
        assert warning not in printed, printed


def test_the_installed_model_index_lists_every_config(user_project):
    models = user_project[0]['models']
    top_level = sorted(p.stem for p in (REPO_ROOT / 'configs').glob('*.py'))
    assert sorted(m['name'] for m in models) == top_level
    for m in models:  # each in its family's folder, shipped as it is
        assert m['config'] == f"configs/{m['family']}/{m['name']}.py", m
        assert m['config_shipped'], m
        assert m['params'] > 0 and m['flops'] > 0, m


def test_mim_search_finds_every_config_in_the_installed_wheel(user_project):
    found = {m['name']: m for m in user_project[0]['mim_models']}
    assert sorted(found) == sorted(p.stem for p in (REPO_ROOT / 'configs').glob('*.py'))
    for m in user_project[0]['models']:
        assert (found[m['name']]['params'], found[m['name']]['flops']) == \
            (m['params'], m['flops'])
