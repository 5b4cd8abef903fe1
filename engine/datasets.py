"""Datasets shipped with the package (no download at run time), with fixed seeded splits.

Synthetic tasks for the seed's 6x6 input are generated from a fixed seed, so every
machine sees the same examples; the real one is the UCI handwritten digits (8x8, CC BY 4.0,
see data/DIGITS-LICENSE.txt). Images are float64 in [0, 1], shape (N, 1, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

Array = np.ndarray
DATA = Path(__file__).resolve().parent / "data"
SPLIT_SEED = 20261129


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    classes: tuple[str, ...]
    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    licence: str
    source: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def meta(self) -> dict[str, object]:
        return {
            "name": self.name, "description": self.description, "input_shape": list(self.input_shape),
            "classes": list(self.classes), "train_size": len(self.y_train), "test_size": len(self.y_test),
            "licence": self.licence, "source": self.source,
        }

    def select(self, classes: list[int] | None) -> Dataset:
        """Only the given classes, relabelled 0..k-1 in the order given (e.g. [3, 8] -> 3 is 0, 8 is 1)."""
        if classes is None:
            return self
        keep = np.asarray(classes)
        remap = np.full(len(self.classes), -1)
        remap[keep] = np.arange(len(keep))

        def part(x: Array, y: Array) -> tuple[Array, Array]:
            mask = np.isin(y, keep)
            return x[mask], remap[y[mask]]

        xtr, ytr = part(self.x_train, self.y_train)
        xte, yte = part(self.x_test, self.y_test)
        names = tuple(self.classes[c] for c in classes)
        return Dataset(f"{self.name}[{','.join(map(str, classes))}]", self.description, names, xtr, ytr, xte, yte,
                       self.licence, self.source)


def _split(x: Array, y: Array, test_fraction: float, seed: int = SPLIT_SEED) -> tuple[Array, Array, Array, Array]:
    """A fixed, seeded, stratified split: each class keeps the same share in train and test."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test[idx[: round(len(idx) * test_fraction)]] = True
    train_idx = rng.permutation(np.flatnonzero(~test))
    test_idx = np.flatnonzero(test)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def _line(kind: str, size: int, pos: int) -> Array:
    img = np.zeros((size, size))
    if kind == "vertical":
        img[:, pos] = 1.0
    elif kind == "horizontal":
        img[pos, :] = 1.0
    elif kind == "diagonal":  # "\" shifted by pos (wrapping)
        img[np.arange(size), (np.arange(size) + pos) % size] = 1.0
    else:  # "/" shifted by pos
        img[np.arange(size), (size - 1 - np.arange(size) + pos) % size] = 1.0
    return img


def _strokes(kinds: list[str], n: int, seed: int, size: int = 6, noise: float = 0.15,
             positions: tuple[int, int] = (0, 6)) -> tuple[Array, Array]:
    """n images per kind: a stroke at a random position in [lo, hi) with a random intensity in
    [0.6, 1], plus uniform background noise in [0, noise]."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, kind in enumerate(kinds):
        pos = rng.integers(*positions, n)
        strength = rng.uniform(0.6, 1.0, n)
        imgs = np.stack([_line(kind, size, p) for p in pos]) * strength[:, None, None]
        imgs = np.clip(imgs + rng.uniform(0.0, noise, imgs.shape), 0.0, 1.0)
        xs.append(imgs)
        ys.append(np.full(n, label))
    return np.concatenate(xs)[:, None], np.concatenate(ys)


SYNTHETIC = "synthetic, generated from a fixed seed by backprop-viz (public domain)"


@cache
def _build(name: str) -> Dataset:
    if name == "bars":
        # Bars stay off the border: a valid 3x3 conv sees a border bar through a single window
        # column, which leaves the seed's one-filter network a poor local minimum to fall into.
        x, y = _strokes(["horizontal", "vertical"], 300, seed=1, positions=(1, 5))
        return Dataset("bars", "6x6 horizontal (0) vs vertical (1) bar in rows/columns 1-4, with noise: the "
                       "seed's network's task", ("horizontal", "vertical"), *_split(x, y, 0.25), "CC0-1.0", SYNTHETIC)
    if name == "diagonals":
        x, y = _strokes(["diagonal", "antidiagonal"], 300, seed=2)
        return Dataset("diagonals", "6x6 '\\' (0) vs '/' (1) diagonal stroke, shifted and wrapped, with noise",
                       ("backslash", "slash"), *_split(x, y, 0.25), "CC0-1.0", SYNTHETIC)
    if name == "strokes":
        x, y = _strokes(["horizontal", "vertical", "diagonal", "antidiagonal"], 200, seed=3)
        return Dataset("strokes", "6x6, four classes: horizontal, vertical, '\\' and '/' strokes, with noise",
                       ("horizontal", "vertical", "backslash", "slash"), *_split(x, y, 0.25), "CC0-1.0", SYNTHETIC)
    if name == "digits":
        with np.load(DATA / "digits.npz") as f:
            images, labels = f["images"], f["labels"].astype(np.int64)
        x = images[:, None].astype(np.float64) / 16.0
        return Dataset("digits", "UCI handwritten digits, 8x8, values 0..16 scaled to [0, 1], 10 classes",
                       tuple(str(d) for d in range(10)), *_split(x, labels, 0.2), "CC BY 4.0",
                       "E. Alpaydin, C. Kaynak: Optical Recognition of Handwritten Digits, UCI Machine Learning "
                       "Repository (1998), https://doi.org/10.24432/C50P49")
    raise KeyError(name)


NAMES = ("bars", "diagonals", "strokes", "digits")


def load(name: str) -> Dataset:
    if name not in NAMES:
        raise KeyError(name)
    return _build(name)
