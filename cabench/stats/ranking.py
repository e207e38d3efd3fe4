"""Score columns sorted once, with their labels packed into the sort keys.

Rank-based metrics (AUC, ROC-based thresholds) need every column of a score cube sorted with its
labels carried along. ``argsort`` plus a gather costs about ten times a plain sort of unsigned
integers, so each (score, label) pair becomes one unsigned key whose order is the score's order:
``key = code(score) << 1 | is_positive``. Unlabelled cases (label -1) get the largest key and sort
last, so the labelled cases of a column are its first ``n_valid`` keys; within a tie, negatives
sort before positives. Columns are transposed and sorted in chunks that stay in cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_ROW_BLOCK = 512  # cases per step of the blocked transpose (a plain .T copy is ~6x slower)


def check_labels(labels: np.ndarray) -> np.ndarray:
    """``labels`` as int8, after checking every value is -1 (not labelled), 0 or 1."""
    labels = np.asarray(labels)
    if labels.dtype == np.bool_:
        return labels.astype(np.int8)
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isin(labels, (-1, 0, 1))):
            raise ValueError("labels must be -1 (not labelled), 0 or 1")
        return labels.astype(np.int8)
    if labels.size and (labels.min() < -1 or labels.max() > 1):
        raise ValueError("labels must be -1 (not labelled), 0 or 1")
    return labels.astype(np.int8, copy=False)


def label_columns(
    scores_shape: tuple[int, ...], labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Labels as a 2-D (n, L) array and, per score column, the index of its label column.

    Labels broadcast against the scores on the trailing axes (numpy rules, aligned on the right),
    so labels (n, F) serve scores (n, T, F) without being copied T times.
    """
    n, trailing = scores_shape[0], tuple(scores_shape[1:])
    if labels.shape[0] != n:
        raise ValueError(f"labels have {labels.shape[0]} cases but scores have {n}")
    label_trailing = tuple(labels.shape[1:])
    try:
        joint = np.broadcast_shapes(label_trailing, trailing)
    except ValueError:
        joint = None
    if joint != trailing:
        raise ValueError(f"labels {labels.shape} do not broadcast against scores {scores_shape}")
    ids = np.arange(int(np.prod(label_trailing, dtype=np.int64)), dtype=np.intp)
    column_of = np.broadcast_to(ids.reshape(label_trailing), trailing).ravel()
    return labels.reshape(n, ids.size), np.ascontiguousarray(column_of)


class _Codec:
    """Order-preserving unsigned codes for scores, and the way back to score values."""

    def __init__(self, scores2d: np.ndarray) -> None:
        if scores2d.dtype == np.float16:
            scores2d = scores2d.astype(np.float32)
        self.lookup: np.ndarray | None = None
        if scores2d.size == 0:
            self.source, self.dtype, self.key_dtype = scores2d, scores2d.dtype, np.dtype(np.uint32)
            return
        low = scores2d.min()  # NaN if any score is NaN
        if np.isnan(low):
            raise ValueError("scores contain NaN")
        if scores2d.dtype == np.float32 and low >= 0:
            # Bits of a non-negative float32 are ordered like its value; <<1 drops the sign bit,
            # which also maps -0.0 onto +0.0.
            self.source, self.dtype = scores2d.view(np.uint32), np.dtype(np.float32)
        else:
            # Anything else: exact dense ranks over the whole array (slower, still exact).
            values, inverse = np.unique(scores2d, return_inverse=True)
            self.lookup, self.dtype = values, values.dtype
            self.source = inverse.reshape(scores2d.shape)
        if self.lookup is not None and len(self.lookup) >= 2**31 - 1:
            raise ValueError("more than 2**31 - 2 distinct scores are not supported")
        self.key_dtype = np.dtype(np.uint32)

    def codes(self, rows: slice, cols: slice) -> np.ndarray:
        return self.source[rows, cols].astype(self.key_dtype, copy=False)

    def values(self, keys: np.ndarray) -> np.ndarray:
        """Score values of (sorted) keys."""
        codes = keys >> 1
        if self.lookup is not None:
            return self.lookup[codes.astype(np.intp)]
        return codes.astype(np.uint32).view(np.float32)


@dataclass
class SortedColumns:
    """A score array (n, ...) seen as C = prod(trailing) columns, with per-column label counts."""

    n: int
    trailing: tuple[int, ...]
    n_pos: np.ndarray  # (C,) labelled positives per column
    n_neg: np.ndarray  # (C,) labelled negatives per column
    codec: _Codec
    labels2d: np.ndarray
    column_of: np.ndarray
    _masks: np.ndarray | None = None

    @property
    def n_columns(self) -> int:
        return int(np.prod(self.trailing, dtype=np.int64))

    @property
    def missing_key(self) -> np.generic:
        return np.iinfo(self.codec.key_dtype).max

    def chunks(self, columns: int = 64) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield (column slice, keys (c, n) sorted ascending per row), ~``columns`` at a time.

        The key array is a buffer reused by the next chunk: use it before advancing.
        """
        n_labels = self._label_masks().shape[0]
        # Labels (n, F) under scores (n, T, F) repeat every F columns: chunks of whole periods
        # let the label masks broadcast instead of being gathered.
        tiled = np.array_equal(self.column_of, np.arange(self.n_columns) % n_labels)
        if tiled:
            columns = n_labels * max(1, columns // n_labels)
        buffer = np.empty((min(columns, self.n_columns), self.n), dtype=self.codec.key_dtype)
        for j0 in range(0, self.n_columns, columns):
            cols = slice(j0, min(j0 + columns, self.n_columns))
            keys = buffer[: cols.stop - cols.start]
            self._fill_sorted(keys, cols, tiled)
            yield cols, keys

    def _fill_sorted(self, keys: np.ndarray, cols: slice, tiled: bool) -> None:
        if self.n == 0:
            return
        for i0 in range(0, self.n, _ROW_BLOCK):
            rows = slice(i0, min(i0 + _ROW_BLOCK, self.n))
            keys[:, rows] = self.codec.codes(rows, cols).T
        keys <<= self.codec.key_dtype.type(1)
        masks = self._label_masks()
        if tiled and keys.shape[0] % masks.shape[0] == 0:
            keys.reshape(-1, *masks.shape)[...] |= masks
        else:
            keys |= np.take(masks, self.column_of[cols], axis=0)
        keys.sort(axis=1)

    def _label_masks(self) -> np.ndarray:
        """(L, n) masks: OR sets the positive bit (label 1), nothing (0) or all bits (-1)."""
        if self._masks is None:
            lut = np.array([self.missing_key, 0, 1], dtype=self.codec.key_dtype)
            self._masks = np.ascontiguousarray(lut[self.labels2d.T + 1])
        return self._masks


def sort_columns(scores: np.ndarray, labels: np.ndarray) -> SortedColumns:
    """Prepare ``scores`` (n, ...) and broadcastable ``labels`` for column-wise rank statistics."""
    scores = np.asarray(scores)
    if scores.ndim < 1:
        raise ValueError("scores need a leading case axis")
    if not (np.issubdtype(scores.dtype, np.floating) or np.issubdtype(scores.dtype, np.integer)):
        raise ValueError(f"scores must be numeric, not {scores.dtype}")
    labels = check_labels(labels)
    if labels.ndim == 0:
        raise ValueError("labels need a leading case axis")
    labels2d, column_of = label_columns(scores.shape, labels)
    n = scores.shape[0]
    scores2d = np.ascontiguousarray(scores).reshape(n, column_of.size)
    n_pos_l = np.count_nonzero(labels2d == 1, axis=0)
    n_neg_l = np.count_nonzero(labels2d == 0, axis=0)
    return SortedColumns(
        n=n,
        trailing=tuple(scores.shape[1:]),
        n_pos=n_pos_l[column_of].astype(np.int64),
        n_neg=n_neg_l[column_of].astype(np.int64),
        codec=_Codec(scores2d),
        labels2d=labels2d,
        column_of=column_of,
    )


def tie_pairs(keys: np.ndarray) -> np.ndarray:
    """Per row of sorted keys: the number of (positive, negative) pairs with equal scores.

    In sorted order a tie group holding both classes shows as a negative key immediately followed
    by the same key plus one (same score, positive bit set): ``k[i] ^ k[i+1] == 1``. Only rows with
    such boundaries are visited, so continuous scores cost one vectorised pass.
    """
    out = np.zeros(keys.shape[0], dtype=np.int64)
    width = keys.shape[1]
    if width < 2:
        return out
    boundary = (keys[:, 1:] ^ keys[:, :-1]) == 1
    if not np.count_nonzero(boundary):
        return out
    rows, at = np.divmod(np.flatnonzero(boundary), width - 1)
    # Usually one negative meets one positive; longer runs are counted by binary search.
    longer = (at > 0) & (keys[rows, at - 1] == keys[rows, at])
    longer |= (at + 2 < width) & (keys[rows, np.minimum(at + 2, width - 1)] == keys[rows, at + 1])
    np.add.at(out, rows[~longer], 1)
    rows, at = rows[longer], at[longer]
    if rows.size == 0:
        return out
    # Prefixing each key with its row number makes the rows concerned one sorted array.
    tied_rows, local = np.unique(rows, return_inverse=True)
    prefix = np.arange(tied_rows.size, dtype=np.uint64)[:, None] << np.uint64(32)
    flat = (prefix | keys[tied_rows].astype(np.uint64)).ravel()
    base = local.ravel() * width
    neg_start = np.searchsorted(flat, flat[base + at], side="left") - base
    pos_end = np.searchsorted(flat, flat[base + at + 1], side="right") - base
    np.add.at(out, rows, (at + 1 - neg_start) * (pos_end - at - 1))
    return out
