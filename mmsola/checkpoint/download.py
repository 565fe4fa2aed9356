"""Checkpoints named by URL: downloaded once into torch's hub cache, checked, then reused.

:func:`fetch_checkpoint` puts ``url``'s file into ``<torch.hub.get_dir()>/checkpoints``
(``$TORCH_HOME/hub/checkpoints``, where torch and mmengine cache theirs) under a readable
name, with torch's progress bar (``torch.hub.download_url_to_file``). The body goes to a
temporary file there, is read weights-only (:func:`~.reading.read_checkpoint`, the foreign
config classes as data) and only then renamed into place: a failed, interrupted, truncated
or non-checkpoint download leaves nothing under the name a later run would take for whole.
A file already there is used without the network (offline included).

mmengine's own http loader names the file after the URL's path, which fails for URLs such
as ``https://host/f/<id>/?dl=1``; :func:`register_download_host` routes the URLs of one host
through :func:`fetch_checkpoint` instead, by mmengine's public
``CheckpointLoader.register_scheme`` (``load_from``, ``tools/test.py`` and ``Pretrained``
init_cfgs of other modules then fetch them too).
"""
import os
import os.path as osp
import re
import tempfile
from typing import Dict, Optional
from urllib.parse import urlsplit

from .allow_list import FOREIGN_CONFIG_CLASSES
from .reading import CheckpointError, read_checkpoint
from .state_dict import state_dict_of

_URL = re.compile(r'^https?://', re.IGNORECASE)
# readable cache names of known URLs (e.g. MLLA's, mmsola.convert.mlla_weights)
_FILE_NAMES: Dict[str, str] = {}


class CheckpointDownloadError(CheckpointError):
    """A checkpoint URL that could not be fetched; the message names the URL, the cache file
    and what to do."""


def is_url(path: object) -> bool:
    """``http://`` or ``https://``."""
    return isinstance(path, str) and bool(_URL.match(path))


def cache_dir() -> str:
    """Where downloaded checkpoints are kept: ``<torch.hub.get_dir()>/checkpoints``."""
    import torch.hub
    return osp.join(torch.hub.get_dir(), 'checkpoints')


def cache_file_name(url: str) -> str:
    """The cache file name of ``url``: its registered name, else the last part of its path
    (``.../mlla_t.pth`` -> ``mlla_t.pth``, ``.../f/7a19.../?dl=1`` -> ``7a19....pth``)."""
    if url in _FILE_NAMES:
        return _FILE_NAMES[url]
    parts = [p for p in urlsplit(url).path.split('/') if p]
    name = re.sub(r'[^\w.-]', '_', parts[-1]) if parts else urlsplit(url).netloc
    return name if osp.splitext(name)[1] else name + '.pth'


def cache_path(url: str) -> str:
    """The file :func:`fetch_checkpoint` keeps ``url``'s checkpoint in."""
    return osp.join(cache_dir(), cache_file_name(url))


def _offline_message(url: str, path: str, err: BaseException) -> str:
    return (f'cannot download {url} ({err}) and it is not cached: the file is expected at '
            f'{path}. Either copy the checkpoint there (downloaded on a machine with internet), '
            "or set the config's `pretrained` (or the checkpoint argument) to a local file, "
            "e.g. --cfg-options model.backbone.init_cfg.checkpoint=PATH.")


def fetch_checkpoint(url: str, file_name: Optional[str] = None, progress: bool = True) -> str:
    """The local path of ``url``'s checkpoint, downloaded into :func:`cache_dir` if it is not
    there yet.

    Args:
        url: an ``http(s)://`` URL of a file written by ``torch.save``.
        file_name: the cache file's name (default :func:`cache_file_name`).
        progress: show torch's progress bar while downloading.

    Raises:
        CheckpointDownloadError: the server cannot be reached (offline) and the file is not
            cached (the message names the expected cache path and the two ways out), the
            server answered with an error, or the body is not a whole checkpoint; nothing is
            left in the cache.
    """
    from urllib.error import HTTPError

    import torch.hub
    path = osp.join(cache_dir(), file_name or cache_file_name(url))
    if osp.isfile(path):
        return path
    os.makedirs(osp.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(path), prefix=f'.{osp.basename(path)}.',
                               suffix='.download')
    os.close(fd)
    try:
        try:
            torch.hub.download_url_to_file(url, tmp, progress=progress)
        except HTTPError as err:
            raise CheckpointDownloadError(
                f'cannot download {url}: the server answered {err.code} {err.reason}. Check '
                'the URL, or use a local copy of the file.') from err
        except OSError as err:  # URLError (no route, no name resolution, refused), timeouts
            raise CheckpointDownloadError(_offline_message(url, path, err)) from err
        except Exception as err:  # noqa: BLE001  (http.client: a body cut short, ...)
            raise CheckpointDownloadError(
                f'cannot download {url}: {type(err).__name__}: {err}. Try again, or use a '
                'local copy of the file.') from err
        try:
            read_checkpoint(tmp, f'the download of {url}', mmap=True,
                            config_classes=FOREIGN_CONFIG_CLASSES)
        except CheckpointError as err:
            raise CheckpointDownloadError(
                f'{url} did not give a whole checkpoint, so it was not cached: {err}') from err
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return path


def load_url_checkpoint(url: str, map_location=None) -> dict:
    """mmengine ``CheckpointLoader`` scheme: :func:`fetch_checkpoint`, then read weights-only
    (foreign config objects as data). A training file that keeps its weights under
    ``model`` (MLLA's, timm's) gets them as ``state_dict`` too, where mmengine's Runner looks."""
    ckpt = read_checkpoint(fetch_checkpoint(url), url, config_classes=FOREIGN_CONFIG_CLASSES)
    if 'state_dict' not in ckpt:
        ckpt = dict(ckpt, state_dict=state_dict_of(ckpt, url))
    return ckpt


def register_download_host(prefix: str, file_names: Optional[Dict[str, str]] = None) -> None:
    """Fetch the URLs that start with ``prefix`` (e.g. ``'https://cloud.tsinghua.edu.cn/f/'``)
    through :func:`load_url_checkpoint` wherever mmengine loads a checkpoint, and cache the
    URLs of ``file_names`` under the names it gives. Registering a host again replaces its
    entry (mmengine's loaders of whole schemes, ``https://``, are never replaced).

    Raises:
        ValueError: ``prefix`` is not an ``http(s)://`` URL with a host.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    if not (is_url(prefix) and urlsplit(prefix).netloc):  # never mmengine's own 'https://'
        raise ValueError(f'register_download_host({prefix!r}): give a URL prefix with its '
                         "host, e.g. 'https://cloud.tsinghua.edu.cn/f/'")
    _FILE_NAMES.update(file_names or {})
    CheckpointLoader.register_scheme(prefixes=prefix, loader=load_url_checkpoint, force=True)
