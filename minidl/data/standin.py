"""minidl's built-in AudioSet stand-in: REAL labels, SYNTHETIC embeddings, generated from a seed.

Nothing is downloaded.  The ``bal_train`` (22,160 clips) and ``eval`` (20,371 clips) splits
carry the real label sets of the official CSVs (:func:`~minidl.data.labels.builtin_label_sets`);
only the embeddings are made up.  The ``big`` split (any size up to millions of clips) draws its
label sets so that they have the unbalanced set's statistics (Music and Speech each on ~half
the clips, 2 labels per clip, a long tail; see :class:`BigLabelModel`).

**Embedding model** (per clip, in a 128-d whitened space, frame t = 0..9):

    e[t] = sum over events k of  active[k, t] * g_k * mu[c_k, v_k]   +   o   +   noise[t]

* events: the clip's labels, plus events that are *not* labelled (AudioSet's labels are
  incomplete): a Poisson(``unlabelled``) number of events of random classes, and the classes of a
  Poisson(``donated``) number of *donor* label sets (Music and Speech left out).  A donor is a
  bal_train label set drawn by picking a class with probability proportional to its
  *propensity* (a per-class trait, lognormal with log-std ``miss_spread``; 0 for Music and
  Speech), then a bal_train clip labelled with it.  A donor brings a whole label set, so an
  unlabelled event of class c comes with the events c is labelled with: it looks exactly like a
  labelled one, and sits at the top of class c's ranking.  This caps each class's precision (at
  about 1 / (1 + unlabelled-to-labelled ratio)), and the ratio differs widely between classes,
  so mean AP is low while mean AUC stays high, as on real AudioSet.  With probability
  ``inaudible`` a labelled event leaves no trace at all;
* ``mu[c, v]``: ``variants`` unit-variance prototypes (sub-types) of class ``c``, around a class
  mean that shares ``family_weight`` of its variance with a *family direction*: a mix of the
  directions of the classes ``c`` co-occurs with in the real labels (cosine co-occurrence
  similarity; the class's own direction has weight ``FAMILY_SELF`` = 0.1), so classes with the
  same neighbours (siblings such as instruments, genres, vehicles) are confusable;
* ``v_k`` uniform; ``g_k = signal * lognormal(gain_spread)``;
* ``active[k, t]``: a run of frames whose mean length is a per-class trait (Beta(3, 1) distributed,
  ``COVERAGE_BETA``: most events last most of the clip, some a second or two), at a random position;
* ``o``: a clip-level offset (recording conditions) shared by the 10 frames, with a decaying
  spectrum; ``noise``: white frame noise.  Per dimension, ``e`` has a standard deviation of ~0.95.

Then, as VGGish does: clip to [-2, 2] (about 3% of values at each end) and quantise
``q = uint8((e + 2) * 255 / 4)``.  Clips shorter than 10 s (real durations for bal_train/eval,
~1.7% of clips) have their missing frames set to 128, as the TFRecord reader pads.

The constants in :class:`StandinConfig` (generator version 4: version 3 plus the donor label sets)
were tuned with ``tools/check_standin_baseline.py``: the paper's fc model (1280-1024-1024-527,
Adam 1e-3, batches of 256) trained on bal_train reaches its best eval mAP, 0.276 with mAUC 0.942,
at epoch 10 (version 3: 0.463 and 0.967; the paper on real data: 0.220 and 0.942), while its train
mAP goes to 1.0 and the eval mAP slips to 0.265 (overfitting); bal_train + 200K big clips reach
0.319 after 3 epochs (more data helps).  See docs/data.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse
from scipy.stats import norm
from tqdm import tqdm

from minidl.data.clips import EMBEDDING_SIZE, Clips, load_npz, save_npz
from minidl.data.hdf5 import H5Clips, write_h5
from minidl.data.labels import NUM_CLASSES, NUM_FRAMES, LabelSets, builtin_label_sets

GENERATOR_VERSION = 4  # bump when the model below changes, so stale caches are regenerated
CHUNK = 8192  # clips generated per random stream; chunk k is the same whatever the split size
MUSIC, SPEECH = 137, 0  # class indices
FAMILY_SELF = 0.1  # weight of a class's own direction in its family direction (neighbours: their similarity)
COVERAGE_BETA = (3.0, 1.0)  # per-class mean coverage (fraction of the clip an event covers) ~ Beta(a, b)
_SPLIT_STREAM = {"bal_train": 1, "eval": 2, "big": 3}


@dataclass(frozen=True)
class StandinConfig:
    """The knobs of the embedding model (per-dimension standard deviations in the whitened space)."""

    variants: int = 8            # prototypes (sub-types) per class: several, so a class needs many examples
    family_weight: float = 0.9   # share of a class's mean prototype that is its family (co-occurring classes) direction
    variant_spread: float = 0.7  # distance of a class's variants from its mean prototype (relative)
    signal: float = 0.35         # std of one event's contribution at median gain
    gain_spread: float = 0.2     # std of the log gain of an event
    inaudible: float = 0.01      # probability that a labelled event leaves no trace
    unlabelled: float = 2.0      # mean number of unlabelled events per clip (labels are incomplete)
    donated: float = 0.8         # mean number of donor label sets per clip whose classes occur unlabelled
    miss_spread: float = 1.5     # std of a class's log propensity to occur unlabelled (per-class trait)
    offset: float = 0.5          # std of the clip-level offset
    noise: float = 0.5           # std of the frame noise


@dataclass(frozen=True)
class World:
    """The fixed, seeded part of the model: prototypes (C, K, 128) and per-class traits (C,).

    Shared by every split of one seed, so train and eval clips of a class look alike.
    """

    prototypes: np.ndarray
    coverage: np.ndarray          # mean fraction of the clip an event of the class covers
    offset_basis: np.ndarray      # (128, 128): offset = z @ offset_basis, z ~ N(0, I)
    donors: LabelSets             # the label sets that unlabelled events are copied from (bal_train's)
    donor_cdf: np.ndarray         # (len(donors),) cumulative probability of drawing each donor
    config: StandinConfig

    @classmethod
    def create(cls, seed: int, config: StandinConfig | None = None) -> World:
        """Draw the world of ``seed`` (class means, variants, coverages, offset basis)."""
        config = config or StandinConfig()
        rng = np.random.default_rng([seed, 0])
        pool = builtin_label_sets("bal_train")[0]
        similarity = _cooccurrence_similarity(pool)
        # a class's family direction mixes the directions of the classes it co-occurs with, and only a
        # little of its own (weight FAMILY_SELF, not 1): classes with the same neighbours get nearly the
        # same family direction, so they are confusable
        np.fill_diagonal(similarity, FAMILY_SELF)
        shared = _unit_rows(similarity @ rng.standard_normal((NUM_CLASSES, EMBEDDING_SIZE)))
        own = _unit_rows(rng.standard_normal((NUM_CLASSES, EMBEDDING_SIZE)))
        centre = np.sqrt(config.family_weight) * shared + np.sqrt(1 - config.family_weight) * own
        spread = config.variant_spread * _unit_rows(rng.standard_normal((NUM_CLASSES, config.variants,
                                                                          EMBEDDING_SIZE)))
        prototypes = _unit_rows(centre[:, None, :] + spread) * np.sqrt(EMBEDDING_SIZE)
        coverage = rng.beta(*COVERAGE_BETA, NUM_CLASSES)
        spectrum = np.sqrt(np.linspace(2.0, 0.2, EMBEDDING_SIZE) / 1.1)  # mean 1: offset's std = config.offset
        basis = np.linalg.qr(rng.standard_normal((EMBEDDING_SIZE, EMBEDDING_SIZE)))[0] * spectrum[:, None]
        # donor label sets: pick a class with probability ~ its propensity, then a bal_train clip labelled with it
        propensity = np.exp(config.miss_spread * rng.standard_normal(NUM_CLASSES))
        propensity[[MUSIC, SPEECH]] = 0.0
        y = scipy.sparse.csr_matrix((np.ones(pool.total), pool.indices, pool.offsets), shape=(len(pool), NUM_CLASSES))
        counts = pool.class_counts()
        donor = y @ np.divide(propensity / propensity.sum(), counts, out=np.zeros(NUM_CLASSES), where=counts > 0)
        donor_cdf = np.cumsum(donor) / donor.sum()
        return cls(prototypes.astype(np.float32), coverage, basis.astype(np.float32), pool, donor_cdf, config)


def _unit_rows(a: np.ndarray) -> np.ndarray:
    """Scale the last axis of ``a`` to unit norm."""
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def _cooccurrence_counts(labels: LabelSets) -> np.ndarray:
    """(C, C) ``n_ij``: clips labelled with both i and j (``n_ii``: clips labelled i)."""
    y = scipy.sparse.csr_matrix((np.ones(labels.total), labels.indices, labels.offsets),
                                shape=(len(labels), NUM_CLASSES))
    return (y.T @ y).toarray()


def _cooccurrence_similarity(labels: LabelSets) -> np.ndarray:
    """(C, C) cosine similarity of the classes' clip sets: ``n_ij / sqrt(n_i n_j)`` (1 on the diagonal)."""
    co = _cooccurrence_counts(labels)
    scale = 1 / np.sqrt(np.diag(co))
    return co * scale[:, None] * scale[None, :]


# ----------------------------------------------------------------------------- synthesis
def synthesize(world: World, labels: LabelSets, n_frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Embeddings (N, 10, 128) uint8 for N clips with the given label sets and frame counts."""
    cfg = world.config
    n = len(labels)
    extra = rng.poisson(cfg.unlabelled, n)
    n_donors = rng.poisson(cfg.donated, n)
    donated = world.donors.take(np.searchsorted(world.donor_cdf, rng.random(n_donors.sum()), side="right")
                                .clip(0, len(world.donors) - 1))
    donated_clip = np.repeat(np.repeat(np.arange(n), n_donors), donated.per_clip())
    keep = ~np.isin(donated.indices, [MUSIC, SPEECH])
    clip_of = np.concatenate([np.repeat(np.arange(n), labels.per_clip()), np.repeat(np.arange(n), extra),
                              donated_clip[keep]])
    classes = np.concatenate([labels.indices, rng.integers(NUM_CLASSES, size=extra.sum()), donated.indices[keep]])
    gain = cfg.signal * np.exp(cfg.gain_spread * rng.standard_normal(len(classes)))
    gain[:labels.total] *= rng.random(labels.total) >= cfg.inaudible
    frames = _event_frames(world, classes, n_frames[clip_of], rng) * gain[:, None]  # (m, 10)
    variant = rng.integers(cfg.variants, size=len(classes))
    rows = (clip_of[:, None] * NUM_FRAMES + np.arange(NUM_FRAMES)).ravel()
    cols = np.repeat(classes * cfg.variants + variant, NUM_FRAMES)
    weights = scipy.sparse.csr_matrix((frames.ravel(), (rows, cols)),
                                      shape=(n * NUM_FRAMES, NUM_CLASSES * cfg.variants), dtype=np.float32)
    e = (weights @ world.prototypes.reshape(-1, EMBEDDING_SIZE)).reshape(n, NUM_FRAMES, EMBEDDING_SIZE)
    e += cfg.offset * (rng.standard_normal((n, EMBEDDING_SIZE), dtype=np.float32) @ world.offset_basis)[:, None]
    e += cfg.noise * rng.standard_normal(e.shape, dtype=np.float32)
    q = quantize(e)
    q[np.arange(NUM_FRAMES) >= n_frames[:, None]] = 128
    return q


def _event_frames(world: World, classes: np.ndarray, n_frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m, 10) 0/1: the frames each of m events covers, a run of mean length ``coverage * n_frames``."""
    length = np.rint(world.coverage[classes] * n_frames * rng.uniform(0.5, 1.5, len(classes)))
    length = np.clip(length, 1, n_frames)
    start = np.floor(rng.random(len(classes)) * (n_frames - length + 1))
    t = np.arange(NUM_FRAMES)
    return ((t >= start[:, None]) & (t < (start + length)[:, None])).astype(np.float32)


def quantize(e: np.ndarray) -> np.ndarray:
    """VGGish's quantisation: clip to [-2, 2], then ``uint8((e + 2) * 255 / 4)`` (truncating)."""
    return ((np.clip(e, -2.0, 2.0) + 2.0) * (255.0 / 4.0)).astype(np.uint8)


# ----------------------------------------------------------------------------- splits
def generate_split(split: str, seed: int = 0, world: World | None = None, progress: bool = False) -> Clips:
    """The ``bal_train`` or ``eval`` stand-in in memory: real labels, synthetic embeddings."""
    labels, n_frames = builtin_label_sets(split)
    world = world or World.create(seed)
    starts = range(0, len(labels), CHUNK)
    parts = [_chunk(world, labels.take(rows), n_frames[rows], [seed, _SPLIT_STREAM[split], k], split, rows[0])
             for k, first in enumerate(tqdm(starts, desc=f"generating the {split} stand-in (synthetic)",
                                            unit="chunk", disable=not progress))
             for rows in [np.arange(first, min(first + CHUNK, len(labels)))]]
    return Clips.concatenate(parts)


def _chunk(world: World, labels: LabelSets, n_frames: np.ndarray, stream: list[int], split: str,
           first: int) -> Clips:
    x = synthesize(world, labels, n_frames, np.random.default_rng(stream))
    ids = np.array([f"synthetic-{split}-{first + i:07d}" for i in range(len(labels))])
    return Clips(x, labels.to_dense(), ids, n_frames, synthetic=True, name=f"standin:{split}")


PLAIN_SETS = ((MUSIC,), (SPEECH,), (MUSIC, SPEECH))


@dataclass(frozen=True)
class BigLabelModel:
    """How ``big`` label sets are drawn so that they have the unbalanced set's statistics.

    A clip's label set is, with probability ``shares[k]``, the plain set ``PLAIN_SETS[k]``
    ({Music}, {Speech}, {Music, Speech}: the bulk of YouTube), and otherwise (``shares[3]``)
    a balanced-train label set drawn with ``pool_weights``: pick a class ``c`` from a long-tailed
    popularity profile, then a balanced-train clip labelled ``c``.  The profile is log-normal over
    the rank of the class's balanced-train count (``p_r ~ exp(s * z_r)``, ``z_r`` the normal
    quantiles of the ranks, ``s`` set so it spans a factor ``spread``).  The four shares solve
    the linear system P(Music) = P(Speech) = ``head``, E[labels per clip] = ``labels_per_clip``.
    """

    shares: np.ndarray        # (4,) plain sets, then the pool
    pool_weights: np.ndarray  # (N_pool,) probabilities over the balanced-train clips

    @classmethod
    def fit(cls, pool: LabelSets, head: float = 0.495, labels_per_clip: float = 2.0,
            spread: float = 1000.0) -> BigLabelModel:
        counts = pool.class_counts()
        ranked = np.argsort(-counts, kind="stable")
        tail = ranked[~np.isin(ranked, [MUSIC, SPEECH])]
        z = norm.ppf(1 - (np.arange(len(tail)) + 0.5) / len(tail))
        popularity = np.zeros(NUM_CLASSES)
        popularity[tail] = np.exp(np.log(spread) / (z[0] - z[-1]) * z)
        y = scipy.sparse.csr_matrix((np.ones(pool.total), pool.indices, pool.offsets),
                                    shape=(len(pool), NUM_CLASSES))
        weights = y @ (popularity / popularity.sum() / np.maximum(counts, 1))
        weights /= weights.sum()
        music, speech = y[:, [MUSIC, SPEECH]].T @ weights
        system = np.array([[1, 1, 1, 1],                                  # shares sum to 1
                           [1, 0, 1, music],                              # P(Music)
                           [0, 1, 1, speech],                             # P(Speech)
                           [1, 1, 2, weights @ pool.per_clip()]])         # E[labels per clip]
        shares = np.linalg.solve(system, [1, head, head, labels_per_clip])
        if (shares < 0).any():
            raise ValueError(f"no label mixture has head={head}, labels_per_clip={labels_per_clip}: {shares}")
        return cls(shares, weights)

    def sample(self, pool: LabelSets, n: int, rng: np.random.Generator) -> LabelSets:
        """``n`` label sets drawn from the model."""
        kind = rng.choice(4, size=n, p=self.shares)
        rows = rng.choice(len(pool), size=n, p=self.pool_weights)
        lists = [list(PLAIN_SETS[k]) if k < 3 else pool[row].tolist() for k, row in zip(kind, rows, strict=True)]
        return LabelSets.from_lists(lists)


def generate_big(path: str | Path, size: int, seed: int = 0, world: World | None = None,
                 progress: bool = True) -> Path:
    """Write a ``big`` stand-in split of ``size`` clips to HDF5 ``path``, one chunk of 8192 clips at a time.

    Chunk k depends only on ``(seed, k)``, so the first n clips of a bigger split equal a split of n.
    """
    pool, pool_frames = builtin_label_sets("bal_train")
    model = BigLabelModel.fit(pool)
    world = world or World.create(seed)

    def chunks() -> Iterator[Clips]:
        for k, first in enumerate(tqdm(range(0, size, CHUNK), desc=f"generating big split ({size} clips)",
                                       unit="chunk", disable=not progress)):
            rng = np.random.default_rng([seed, _SPLIT_STREAM["big"], k, 0])
            labels, n_frames = model.sample(pool, CHUNK, rng), pool_frames[rng.integers(len(pool), size=CHUNK)]
            clips = _chunk(world, labels, n_frames, [seed, _SPLIT_STREAM["big"], k], "big", first)
            yield clips.take(np.arange(min(CHUNK, size - first)))  # whole chunks, so prefixes agree

    write_h5(path, chunks(), synthetic=True, attrs={"generator_version": GENERATOR_VERSION, "seed": seed})
    return Path(path)


# ----------------------------------------------------------------------------- cache
def cache_dir() -> Path:
    """``$MINIDL_CACHE``, or ``~/.cache/minidl``."""
    return Path(os.environ.get("MINIDL_CACHE") or Path.home() / ".cache" / "minidl")


def builtin(split: str = "bal_train", seed: int = 0, size: int = 200_000, progress: bool = True) -> Clips | H5Clips:
    """The built-in stand-in split, generated on first use and cached under :func:`cache_dir`.

    ``bal_train`` and ``eval`` come back in memory (:class:`Clips`, NPZ cache, NumPy only); ``big``
    (``size`` clips) as an :class:`~minidl.data.hdf5.H5Clips` streamed from its HDF5 cache.
    """
    folder = cache_dir() / f"standin-v{GENERATOR_VERSION}-seed{seed}"
    if split == "big":
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"builtin: the big split needs a positive whole number of clips, got size={size!r}")
        path = folder / f"big-{size}.h5"
        if not path.exists():
            generate_big(path, size, seed, progress=progress)
        return H5Clips(path)
    path = folder / f"{split}.npz"
    if not path.exists():
        save_npz(path, generate_split(split, seed, progress=progress))
    clips = load_npz(path)
    clips.name = f"builtin:{split} (cached in {path})"
    return clips
