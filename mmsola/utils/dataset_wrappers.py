"""The real datasets under the wrappers of a config's dataset entry.

Wrappers (``RepeatDataset``, ``ClassBalancedDataset``, ``ConcatDataset``, ...) keep the
datasets they wrap under ``dataset`` (one) or ``datasets`` (a list).
"""
from typing import Iterator, Tuple


def unwrap_datasets(dataset: dict, key: str = 'dataset') -> Iterator[Tuple[dict, str]]:
    """The real datasets under wrappers, with their dotted config keys (``key`` is the key
    of ``dataset`` itself, e.g. ``'train_dataloader.dataset'``)."""
    inner = dataset.get('dataset')
    if isinstance(inner, dict):
        yield from unwrap_datasets(inner, f'{key}.dataset')
        return
    many = dataset.get('datasets')
    if isinstance(many, (list, tuple)):
        for i, d in enumerate(many):
            yield from unwrap_datasets(d, f'{key}.datasets.{i}')
        return
    yield dataset, key


def pipeline_dataset(dataset: dict) -> dict:
    """The outermost dataset dict that holds a ``pipeline``: ``dataset`` itself, or the one
    its wrappers keep under ``dataset`` (a wrapper with a pipeline of its own, such as
    mmdet's ``MultiImageMixDataset``, is returned itself)."""
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset
