"""Classes of the demo dataset, in the demo's label order, and the palette that draws them.

Every class is also an ADE20K class, and the annotation PNGs store ADE20K's own ids
(``ADE20K_IDS``; 0 = unlabelled, ignored), so the dataset lives in ADE20K's label space. mmseg's
``ADE20KDataset`` with ``metainfo=METAINFO`` maps those ids to the demo's indices 0..7 (its
``label_map`` matches class names; ``reduce_zero_label=True`` first turns id k into k - 1 and 0
into 255), and any other id to 255.
"""
CLASSES = ('sky', 'grass', 'water', 'tree', 'house', 'rock', 'car', 'boat')
ADE20K_IDS = dict(sky=3, grass=10, water=22, tree=5, house=26, rock=35, car=21, boat=77)
PALETTE = [[110, 170, 250], [60, 180, 75], [0, 60, 170], [0, 100, 20], [170, 60, 200],
           [128, 128, 128], [230, 25, 75], [255, 160, 40]]
METAINFO = dict(classes=CLASSES, palette=PALETTE)
UNLABELLED_COLOUR = [0, 0, 0]


def label_of(name: str) -> int:
    """The value a class has in the annotation PNGs: its ADE20K id (1..150)."""
    return ADE20K_IDS[name]
