"""Turn the errors a run meets in its data or its loss into one line for the user.

The tools build the Runner only after the checks of :mod:`~mmsola.checks.dataset` and
:mod:`~mmsola.checks.checkpoint`; what is found later (a damaged image, labels outside
the classes, a loss that is not finite) raises inside ``runner.train()`` / ``runner.test()``,
often in a dataloader worker, whose traceback hides the message. :func:`run_error_message`
returns that message (None for other errors, which keep their traceback).
"""
import re
from contextlib import contextmanager
from typing import Iterator, Optional

from mmengine.config import Config

# mmcv's LoadImageFromFile when the decoder returns nothing (in a worker, the same text is
# inside torch's "Caught AssertionError in DataLoader worker process N" message).
_UNDECODABLE = re.compile(r'failed to load image: (\S+)')
# OpenCV's imdecode on an empty buffer (a zero-byte image file) names no file
_EMPTY_BUFFER = '!buf.empty()'
_EMPTY_FILES_LISTED = 5


def _empty_dataset(err: BaseException) -> Optional[str]:
    """mmengine's BaseDataset cannot serialise an empty sample list (``np.concatenate`` of
    nothing); the dataset is ``self`` of that frame, which names its annotation file."""
    if not isinstance(err, ValueError) or 'need at least one array' not in str(err):
        return None
    tb = err.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == '_serialize_data' and 'self' in frame.f_locals:
            dataset = frame.f_locals['self']
            ann_file = getattr(dataset, 'ann_file', '') or ''
            where = f'its annotation file {ann_file}' if ann_file else 'its folders'
            return (f'the dataset {type(dataset).__name__} under '
                    f'{getattr(dataset, "data_root", "") or "its data root"} holds no sample: '
                    f"{where} list none, or the dataset's filters (e.g. filter_cfg) removed "
                    'them all. Check the annotation file and the dataloader\'s dataset in the '
                    'config.')
        tb = tb.tb_next
    return None


@contextmanager
def naming_empty_images(cfg: Config) -> Iterator[None]:
    """Around a run of ``cfg``: when OpenCV meets an empty image file (a zero-byte file; in a
    dataloader worker too), raise a DatasetCheckError that names the zero-byte files of the
    config's datasets instead (OpenCV's own error names none)."""
    try:
        yield
    except Exception as err:
        message = _empty_image_message(err, cfg)
        if message is None:
            raise
        from mmsola.engine import DatasetCheckError
        raise DatasetCheckError(message) from err


def _empty_image_message(err: BaseException, cfg: Config) -> Optional[str]:
    """The message for OpenCV's empty-buffer error, naming the zero-byte files; or None."""
    if _EMPTY_BUFFER not in str(err):
        return None
    from .dataset import find_empty_files
    empty = find_empty_files(cfg, limit=_EMPTY_FILES_LISTED)
    if not empty:
        return None
    others = f'; other empty files: {", ".join(empty[1:])}' if len(empty) > 1 else ''
    if len(empty) == _EMPTY_FILES_LISTED:
        others += ' (maybe more: `find DATA_ROOT -type f -size 0` lists them all)'
    return (f'the image {empty[0]} cannot be decoded: the file is empty (0 bytes){others}. '
            'Replace the empty files, or remove them from the dataset (its folder or annotation '
            'file), and run again.')


def run_error_message(err: BaseException) -> Optional[str]:
    """What to tell the user about ``err``, raised by a run, or None to re-raise it."""
    from mmsola.engine import DatasetCheckError, InvalidLossError
    if isinstance(err, (DatasetCheckError, InvalidLossError)):
        return str(err)
    empty = _empty_dataset(err)
    if empty:
        return empty
    # the last one: a worker's message quotes the assert's source line first
    found = [p for p in _UNDECODABLE.findall(str(err)) if not p.startswith('{')]
    if found:
        return (f'the image {found[-1]} cannot be decoded: the file is damaged or not an '
                'image. Replace it, or remove it from the dataset (its folder or annotation '
                'file), and run again.')
    return None
