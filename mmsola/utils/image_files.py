"""Check image files before a tool works on them: each decodes, and is not too small.

A tool that meets a broken image halfway (after loading a model, after writing half its
outputs) fails with a decoder's traceback; :func:`check_image` finds it first and names it.
Grayscale, RGBA, palette and 16-bit images are fine: the loaders convert them.
"""
from typing import Tuple

from mmsola.errors import UserError

# Images smaller than this on a side are refused: one pixel of the backbone's stride-32 output
# covers 32x32 input pixels, so a smaller image holds less than one output cell (a 1x1 file
# is usually a placeholder or a tracking pixel, not a photo).
MIN_IMAGE_SIDE = 32


class ImageFileError(UserError, ValueError):
    """An image file that cannot be used; the message names it and says why."""


def check_image(path: str, min_side: int = 1) -> Tuple[int, int]:
    """Decode ``path`` fully (PIL) and return its ``(width, height)``.

    Raises:
        ImageFileError: the file is not an image PIL can decode, is truncated, or has a side
            shorter than ``min_side`` pixels.
    """
    from PIL import Image
    try:
        with Image.open(path) as image:
            image.load()  # decodes every pixel: a truncated file fails here, not later
            size = image.size
    except (OSError, SyntaxError, ValueError) as err:  # UnidentifiedImageError is an OSError
        raise ImageFileError(f'{path} is not a readable image ({err}); replace it or leave '
                             'it out') from err
    if min(size) < min_side:
        raise ImageFileError(f'{path} is {size[0]}x{size[1]} pixels; images need at least '
                             f'{min_side}x{min_side} (less than one cell of the backbone\'s '
                             'stride-32 output). Is it the image you meant?')
    return size
