"""The demo dataset on disk: synthetic outdoor scenes in ADE20K's layout.

::

    <root>/images/{training,validation}/demo_<split>_000001.jpg       RGB, JPEG quality 95
    <root>/annotations/{training,validation}/demo_<split>_000001.png  ADE20K ids, 0 = unlabelled
    <root>/sola_demo.json                                             manifest, written last

Generation is deterministic: image ``i`` of a split draws from its own generator seeded with
``(seed, split, i)``, and the files are written with fixed encoder settings, so the same seed
gives byte-identical files (the manifest records their SHA-256). The dataset is built in a
temporary sibling directory and renamed into place, so ``root`` is either absent or complete.
"""
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np
from mmengine.logging import print_log

from mmsola.errors import ArgumentError, InputNotFoundError, OutputExistsError
from .classes import CLASSES, label_of
from .scene import OBJECTS, SCENES, render_scene

DEFAULT_ROOT = 'data/sola_demo'
MANIFEST = 'sola_demo.json'
GENERATOR_VERSION = 1
SPLITS = {'training': 0, 'validation': 1}
MIN_IMAGES = 3  # per split: enough to hold every class (see split_plan)


def split_plan(seed: int, split: str, num: int):
    """Per image of a split: its scene and the objects it must show.

    Scenes alternate land / water (then shuffled) and every image shows a vehicle plus one of
    tree / house / rock in turn, so any split of ``MIN_IMAGES`` or more holds every class.
    """
    rng = np.random.default_rng([seed, SPLITS[split]])
    scenes = rng.permutation([SCENES[i % 2] for i in range(num)])
    others = [o for o in OBJECTS if o != 'vehicle']
    offset = int(rng.integers(len(others)))
    return [(str(scenes[i]), ('vehicle', others[(i + offset) % len(others)]))
            for i in range(num)]


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex (the manifest's, and the far-cue dataset's)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_demo_dataset(root: Union[str, Path] = DEFAULT_ROOT, seed: int = 0,
                       num_train: int = 200, num_val: int = 50, image_size: int = 128,
                       progress: bool = True) -> Path:
    """Generate the dataset at ``root`` (which must not exist) and return ``root``.

    Args:
        root: target directory; its parent is created if needed.
        seed: the dataset seed; the same seed and sizes give byte-identical files.
        num_train, num_val: images per split (at least ``MIN_IMAGES`` each).
        image_size: height = width of every image (at least 32).
        progress: show an mmengine progress bar.
    """
    root = Path(root)
    for name, value, low in (('num_train', num_train, MIN_IMAGES),
                             ('num_val', num_val, MIN_IMAGES), ('image_size', image_size, 32)):
        if int(value) != value or value < low:
            raise ArgumentError(f'{name} must be an integer >= {low} (every class must fit in '
                             f'each split), got {value!r}')
    return build_atomically(root, lambda tmp: _write_splits(
        tmp, seed, {'training': num_train, 'validation': num_val}, image_size, progress))


def build_atomically(root: Union[str, Path], write: Callable[[Path], dict]) -> Path:
    """Build a generated dataset: ``write(tmp)`` fills a temporary sibling of ``root`` and
    returns the manifest, which is written last before the directory is renamed to ``root``
    (so ``root`` is absent or complete). ``root`` must not exist."""
    root = Path(root)
    if root.exists():
        raise OutputExistsError(f'{root} already exists; remove it or choose another root')
    tmp = root.parent / f'.{root.name}.partial-{os.getpid()}'
    if tmp.exists():  # left by a crashed build of this process id: ours, never complete
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)  # with the user's umask (tempfile.mkdtemp would make it 0700)
    try:
        manifest = write(tmp)
        (tmp / '.gitignore').write_text('*\n')  # generated data: never committed
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + '\n')
        os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _write_splits(tmp: Path, seed: int, sizes: Dict[str, int], image_size: int,
                  progress: bool) -> dict:
    from PIL import Image  # PIL comes with torchvision / mmcv; only the builder needs it
    bar = None
    if progress:
        from mmengine.utils import ProgressBar
        print_log(f'building the demo dataset ({sum(sizes.values())} images)', 'current')
        bar = ProgressBar(sum(sizes.values()))
    hashes, pixels = {}, {}
    for split, num in sizes.items():
        (tmp / 'images' / split).mkdir(parents=True)
        (tmp / 'annotations' / split).mkdir(parents=True)
        counts = np.zeros(256, np.int64)
        for i, (scene, required) in enumerate(split_plan(seed, split, num)):
            rng = np.random.default_rng([seed, SPLITS[split], i])
            image, label = render_scene(rng, image_size, scene, required)
            counts += np.bincount(label.ravel(), minlength=len(counts))
            stem = f'demo_{split[:5]}_{i + 1:06d}'
            img_path = tmp / 'images' / split / f'{stem}.jpg'
            ann_path = tmp / 'annotations' / split / f'{stem}.png'
            Image.fromarray(image).save(img_path, format='JPEG', quality=95, subsampling=0)
            Image.fromarray(label).save(ann_path, format='PNG', compress_level=6)
            for path in (img_path, ann_path):
                hashes[path.relative_to(tmp).as_posix()] = sha256(path)
            if bar is not None:
                bar.update()
        missing = [c for c in CLASSES if counts[label_of(c)] == 0]
        if missing:
            raise RuntimeError(f'{split} split lacks classes {missing}; use more images')
        pixels[split] = {name: int(counts[label_of(name)]) for name in CLASSES}
        pixels[split]['unlabelled'] = int(counts[0])
    if bar is not None:
        print()  # ProgressBar leaves the cursor on its line
    return dict(generator=GENERATOR_VERSION, seed=seed, image_size=image_size,
                num_train=sizes['training'], num_val=sizes['validation'], classes=list(CLASSES),
                class_pixels=pixels, sha256=hashes)


def read_manifest(root: Union[str, Path]) -> Optional[dict]:
    """The manifest of a complete dataset at ``root``, or None if there is none."""
    path = Path(root) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def ensure_demo_dataset(root: Union[str, Path] = DEFAULT_ROOT, seed: int = 0,
                        num_train: int = 200, num_val: int = 50, image_size: int = 128,
                        progress: bool = True) -> Tuple[Path, bool]:
    """Reuse the dataset at ``root`` if it was built with these settings, else build it.

    Returns ``(root, built)``. A ``root`` that exists but is not a demo dataset built with
    these settings is an error naming the difference (the files are never overwritten).
    """
    root = Path(root)
    manifest = read_manifest(root)
    if manifest is None:
        if root.exists():
            raise OutputExistsError(
                f'{root} exists but holds no {MANIFEST}, so it is not a complete demo dataset; '
                f'delete it to have it rebuilt, or pass another data root')
        return build_demo_dataset(root, seed, num_train, num_val, image_size, progress), True
    wanted = dict(generator=GENERATOR_VERSION, seed=seed, num_train=num_train,
                  num_val=num_val, image_size=image_size)
    diff = {k: (manifest.get(k), v) for k, v in wanted.items() if manifest.get(k) != v}
    if diff:
        text = ', '.join(f'{k}: {old} there, {new} asked' for k, (old, new) in diff.items())
        raise ArgumentError(f'the demo dataset at {root} was built with other settings ({text}); '
                         f'delete it to rebuild, or pass another data root')
    return root, False


def verify_demo_dataset(root: Union[str, Path]) -> None:
    """Check every file listed in the manifest against its SHA-256; raise on any mismatch."""
    manifest = read_manifest(root)
    if manifest is None:
        raise InputNotFoundError(f'no {MANIFEST} in {root}: not a demo dataset')
    bad = [rel for rel, digest in manifest['sha256'].items()
           if not (Path(root) / rel).is_file() or sha256(Path(root) / rel) != digest]
    if bad:
        raise ArgumentError(f'{len(bad)} file(s) of {root} are missing or changed, e.g. {bad[0]}; '
                         f'delete the directory to rebuild it')


def describe_demo_dataset(root: Union[str, Path]) -> str:
    """What the dataset at ``root`` holds: sizes, seed, file count, then each class's share of
    the training and validation pixels (%), one row per class and one for the unlabelled."""
    m = read_manifest(root)
    lines = [f'{root}: {m["num_train"]} train / {m["num_val"]} val images of '
             f'{m["image_size"]}x{m["image_size"]}, seed {m["seed"]}, {len(m["sha256"])} files',
             f'{"class":<12}{"train px %":>11}{"val px %":>10}']
    shares = {}
    for split in ('training', 'validation'):
        total = sum(m['class_pixels'][split].values())
        shares[split] = {k: 100 * v / total for k, v in m['class_pixels'][split].items()}
    for name in list(CLASSES) + ['unlabelled']:
        lines.append(f'{name:<12}{shares["training"][name]:>11.1f}'
                     f'{shares["validation"][name]:>10.1f}')
    return '\n'.join(lines)
