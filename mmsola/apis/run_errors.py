"""Turn the errors a run meets in its data or its loss into one line for the user.

The tools build the Runner only after :mod:`mmsola.apis.checks`; what is found later (a
damaged image, labels outside the classes, a loss that is not finite) raises inside
``runner.train()`` / ``runner.test()``, often in a dataloader worker, whose traceback hides the
message. :func:`run_error_message` returns that message (None for other errors, which keep
their traceback).
"""
import re
from typing import Optional

# mmcv's LoadImageFromFile when the decoder returns nothing (in a worker, the same text is
# inside torch's "Caught AssertionError in DataLoader worker process N" message).
_UNDECODABLE = re.compile(r'failed to load image: (\S+)')


def run_error_message(err: BaseException) -> Optional[str]:
    """What to tell the user about ``err``, raised by a run, or None to re-raise it."""
    from mmsola.engine import DatasetCheckError, InvalidLossError
    if isinstance(err, (DatasetCheckError, InvalidLossError)):
        return str(err)
    found = _UNDECODABLE.search(str(err))
    if found:
        return (f'the image {found.group(1)} cannot be decoded: the file is damaged or not an '
                'image. Replace it, or remove it from the dataset (its folder or annotation '
                'file), and run again.')
    return None
