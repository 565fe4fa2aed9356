"""Sphinx configuration of mmsola's documentation: `make docs` builds docs/en into
docs/en/_build/html with warnings as errors.

The pages are MyST Markdown; the API pages (api/*.rst) are generated from the docstrings of the
public names by autodoc (Google-style sections through napoleon), importing mmsola from this
checkout. `import mmsola` and the modules documented import torch and mmengine only (no mmdet,
mmseg, mmpretrain or mmcv), so nothing needs mocking.
"""
import os.path as osp
import sys

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, REPO_ROOT)  # document this checkout, whatever mmsola is installed


def _version():
    namespace = {}
    with open(osp.join(REPO_ROOT, 'mmsola', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


project = 'mmsola'
copyright = '2026, the mmsola authors'
version = release = _version()

extensions = ['myst_parser', 'sphinx.ext.autodoc', 'sphinx.ext.napoleon']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
exclude_patterns = ['_build']

# headings get anchors, so pages link to sections: [text](page.md#a-heading)
myst_heading_anchors = 3
myst_enable_extensions = ['colon_fence']

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = 'alabaster'
html_title = f'mmsola {release}'
