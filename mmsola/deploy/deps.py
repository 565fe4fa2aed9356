"""The optional deployment dependencies (onnx, onnxruntime, onnxscript): one check, one hint.

``import mmsola`` never imports them; the export code calls :func:`require_deploy_deps` first.
"""
from typing import Dict

from mmsola.errors import UserError

DEPLOY_PACKAGES = ('onnx', 'onnxruntime', 'onnxscript')
INSTALL_HINT = ('install them with: pip install "mmsola[deploy]" (or, in a source checkout, '
                'pip install -e ".[deploy]"; `make test` installs them into .venv)')


class MissingDeployDependency(UserError, ImportError):
    """One or more of onnx, onnxruntime, onnxscript cannot be imported."""


def require_deploy_deps() -> Dict[str, str]:
    """Import onnx, onnxruntime and onnxscript; return ``{name: version}``.

    Raises:
        MissingDeployDependency: naming every package that failed to import, why, and how to
            install them.
    """
    versions, missing = {}, []
    for name in DEPLOY_PACKAGES:
        try:
            module = __import__(name)  # the import statement's hook, so tests can block it
        except ImportError as e:  # also a broken install (e.g. a missing shared library)
            missing.append(f'{name} ({type(e).__name__}: {e})')
        else:
            versions[name] = getattr(module, '__version__', 'unknown')
    if missing:
        raise MissingDeployDependency(
            'ONNX export needs the optional deployment packages onnx, onnxruntime and '
            f'onnxscript; missing: {", ".join(missing)}. {INSTALL_HINT}')
    return versions
