"""Packaging of mmsola.

Requirements are read from requirements/*.txt, the files that requirements.txt and the installer
(tools/install.sh) read too; their version ranges of mmengine and the toolkits are those of
mmsola/version.py (tests/test_supported_versions.py keeps them in step). The configs and the
model index are shipped the OpenMMLab way, as ``mmsola/.mim/`` (as they are, nothing
generated): mmengine resolves a base ``'mmsola::<family>/<file>.py'`` in ``.mim/configs``
(after ``import mmsola``, which adds mmsola to mmengine's table of config packages:
mmsola/utils/config_package.py) and ``mim search mmsola`` reads ``.mim/model-index.yml``.
A wheel gets copies (written into the build directory, never into the source tree). An
editable install gets ``mmsola/.mim`` in the source tree, of symlinks to the repo's files;
mmengine and mim find it only when no mmsola is installed (a checkout on PYTHONPATH): for
an installed one they look in ``site-packages/mmsola/``.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
MIM_DIR = osp.join('mmsola', '.mim')


def read_requirements(path):
    """The requirement lines of ``requirements/<name>.txt`` (comments dropped)."""
    with open(osp.join(ROOT, path)) as f:
        return [line.split('#', 1)[0].strip() for line in f if line.split('#', 1)[0].strip()]


def read_version_module():
    """The names of mmsola/version.py (``__version__``, the supported versions)."""
    namespace = {}
    with open(osp.join(ROOT, 'mmsola', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace


def mim_tree(root=ROOT):
    """What ``mmsola/.mim`` holds, ``{path in .mim: file of the repo}``: ``model-index.yml``
    and every ``.py`` / ``.yml`` under ``configs/``, as they are (mmengine resolves
    ``mmsola::upernet/upernet_sola_t_ade20k.py`` in ``.mim/configs``)."""
    tree = {'model-index.yml': osp.join(root, 'model-index.yml')}
    configs = osp.join(root, 'configs')
    for folder, dirs, files in os.walk(configs):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        for name in sorted(files):
            if name.endswith(('.py', '.yml')):
                path = osp.join(folder, name)
                tree[osp.join('configs', osp.relpath(path, configs))] = path
    return tree


def write_mim_tree(dest, link):
    """Write :func:`mim_tree` into ``dest`` (emptied first); ``link``: symlink the files."""
    if osp.islink(dest) or osp.isfile(dest):
        os.remove(dest)
    elif osp.isdir(dest):
        shutil.rmtree(dest)
    for rel, what in mim_tree().items():
        path = osp.join(dest, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if link:
            os.symlink(osp.relpath(what, osp.dirname(path)), path)
        else:
            shutil.copyfile(what, path)


class BuildPyWithMim(build_py):
    """build_py that also lays out ``mmsola/.mim`` (copies in a wheel, links when editable)."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            write_mim_tree(osp.join(ROOT, MIM_DIR), link=True)
        else:
            write_mim_tree(osp.join(self.build_lib, MIM_DIR), link=False)


def main():
    version_module = read_version_module()
    # requirements.txt lists the same files (what tools/install.sh installs, at pinned versions)
    extras = {
        'mm': read_requirements('requirements/mminstall.txt')
        + read_requirements('requirements/optional.txt'),
        'deploy': read_requirements('requirements/deploy.txt'),
        'tests': read_requirements('requirements/tests.txt'),
    }
    extras['all'] = extras['mm'] + extras['deploy'] + extras['tests']

    setup(
        name='mmsola',
        version=version_module['__version__'],
        description='SoLA-Vision backbones and a fused linear-attention op for OpenMMLab',
        long_description=open(osp.join(ROOT, 'README.md')).read(),
        long_description_content_type='text/markdown',
        # the library only: demo/, projects/, tools/, tests/ and benchmarks/ stay in the repo
        packages=find_packages(include=('mmsola', 'mmsola.*')),
        cmdclass={'build_py': BuildPyWithMim},
        python_requires='>=3.9',
        install_requires=read_requirements('requirements/runtime.txt'),
        extras_require=extras,
        license='Apache License 2.0',
    )


if __name__ == '__main__':  # as setuptools runs it; importing it (a test) only defines the above
    main()
