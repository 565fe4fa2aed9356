"""Packaging of mmsola: the requirements come from the one table of supported versions
(mmsola/version.py).
"""
import os.path as osp

from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))


def read_requirements(path):
    with open(osp.join(ROOT, path)) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def read_version_module():
    """The names of mmsola/version.py (``__version__``, the supported versions)."""
    namespace = {}
    with open(osp.join(ROOT, 'mmsola', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace


def main():
    version_module = read_version_module()
    requirement = version_module['requirement']

    setup(
        name='mmsola',
        version=version_module['__version__'],
        description='SoLA-Vision backbones and a fused linear-attention op for OpenMMLab',
        long_description=open(osp.join(ROOT, 'README.md')).read(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools', 'benchmarks')),
        python_requires='>=3.9',
        install_requires=read_requirements('requirements/runtime.txt') + [requirement('mmengine')],
        extras_require={
            'mm': [requirement(name) for name in ('mmcv', 'mmdet', 'mmseg', 'mmpretrain')]
            + ['ftfy', 'regex'],
            'deploy': ['onnx>=1.16', 'onnxruntime>=1.18', 'onnxscript>=0.3'],
            'tests': ['pytest'],
        },
        license='Apache License 2.0',
    )


if __name__ == '__main__':  # as setuptools runs it; importing it (a test) only defines the above
    main()
