from setuptools import find_packages, setup


def read_requirements(path='requirements.txt'):
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def read_version():
    namespace = {}
    with open('mmsola/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmsola',
    version=read_version(),
    description='SoLA-Vision backbones and a fused linear-attention op for OpenMMLab',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools', 'benchmarks')),
    python_requires='>=3.9',
    install_requires=read_requirements(),
    extras_require={
        'mm': ['mmcv>=2.0.0,<2.2.0', 'mmdet>=3.0.0,<3.4.0', 'mmsegmentation>=1.0.0,<1.3.0',
               'mmpretrain>=1.0.0,<1.3.0', 'ftfy', 'regex'],
        'deploy': ['onnx>=1.16', 'onnxruntime>=1.18', 'onnxscript>=0.3'],
        'tests': ['pytest'],
    },
    license='Apache License 2.0',
)
