"""Classes of the demo dataset, in label order, and the palette that draws them.

Annotation PNGs store ``index + 1`` (0 = unlabelled, ignored), as ADE20K does; mmseg's
``ADE20KDataset`` with ``reduce_zero_label=True`` maps them back to ``index`` and 0 to 255.
"""
CLASSES = ('sky', 'grass', 'water', 'tree', 'house', 'rock', 'car', 'boat')
STUFF = ('sky', 'grass', 'water')
PALETTE = [[110, 170, 250], [60, 180, 75], [0, 60, 170], [0, 100, 20], [170, 60, 200],
           [128, 128, 128], [230, 25, 75], [255, 160, 40]]
METAINFO = dict(classes=CLASSES, palette=PALETTE)
UNLABELLED_COLOUR = [0, 0, 0]


def label_of(name: str) -> int:
    """The value a class has in the annotation PNGs (its index + 1)."""
    return CLASSES.index(name) + 1
