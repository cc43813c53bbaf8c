"""Label stability of the live loop's smoothers: benchmarks/results/label_stability.json and .md

Usage: python benchmarks/label_stability.py [--out benchmarks/results/label_stability.json]
       [--cache FILE] (reuse recorded raw sequences from FILE, or write them there)

Why: on a still face the shown label should not flip every few frames, yet it must follow a real
change of expression. Both depend on the smoother only, so the raw per-frame probabilities are
recorded once from the real loop (:func:`edgefer.live.loop.run_live`, offline, ``smoothing="none"``,
the default engines, every frame) and every candidate smoother is replayed over them offline: the
very classes of :mod:`edgefer.live.smoothing` built from their ``--smoothing`` text, keyed by
(engine, modalities) and reset where the loop predicted nothing, as the loop does.

Data (all clips are still-ish talking faces of one emotion, ~2 s at 30 fps):

- held out (reported, never used to choose): the six packaged demo clips, with their own sound
  (``mic="video"``, condition ``av``) and face only (``mic="none"``, condition ``face``, as for a
  silent masked user). ``/work/shared/data/av/cremad/*.flv`` are byte-identical to the demo clips
  (checked and reported at each run), so they are not new data as they are;
- tuning, real: the same faces under conditions the models did not see them in: each actor-1001
  face with three of the six actor-1002 voices (``*.mp3``, alternating; 18 ``av`` sequences), the
  faces mirrored (``av`` with the own voice, and ``face``), dimmed with sensor noise (``face``) and,
  where the loop offers ``synthetic_mask``, masked by the project's synthetic mask (``av`` and
  ``face``: the case the toolkit is for). They share faces with the held-out clips, so the
  held-out view checks fitting to the demo's exact sequences, not generalisation to new people;
- tuning, synthetic: still ``face`` sequences made in logit space (a class mean, AR(1) noise, short
  bursts of another class), a stress test with more clips than the real data has.

Metrics per smoother and set:

- flips/s: label changes between consecutive records (after the first) per second, per still clip;
  mean and max over clips;
- agreement: the share of records showing the clip's majority raw (``none``) label;
- delay to follow a real change: for each ordered pair of clips A, B of one set whose settled
  labels differ (settled = the majority of the last third of the smoother's labels on B alone),
  the raw records of A then B (B from its first record with A's last key, so a fused A meets B's
  fused part instead of a reset; keyed by (engine, modalities) like the loop) go through the
  smoother, and the delay is the time from the switch until the label first equals B's settled
  label (median and max; "never" when it does not get there within B);
- lag: that delay minus the time the same smoother, started fresh on B at the same record, needs to
  first show that label. The clips are not perfectly still (the fused model waits for a voice
  window; disgust and fear turn positive mid-utterance), so the delay includes B's own content,
  which no smoother can remove (``none`` itself exceeds 1 s); the lag is what the smoother adds,
  the time spent forgetting A.

Rule: a candidate is feasible when, on every tuning set (real ``av``, real ``face``, synthetic), its
lag has median <= 0.5 s and worst <= 1.0 s (worst = the max over real pairs, the 95th percentile
over the thousands of synthetic pairs, near-ties by construction); the default is the feasible
candidate with the fewest flips/s (mean of the three tuning sets' means); candidates within 5 % of
the fewest count as tied (about one flip in a hundred clips) and the one with fewer settings wins,
then the shorter median lag. Before = today's default ``ema:0.3``. Candidates: ``none``, ``ema`` and
``logema`` (alpha 0.1-0.5), ``window`` (3-16), each with a hysteresis margin 0-0.2 and a minimum
dwell of 0-15 updates (0-0.5 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import itertools
import json
import os
import statistics
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgefer.live.capture import VideoSource
from edgefer.live.demo import demo_clips, true_label
from edgefer.live.loop import RunConfig, run_live
from edgefer.live.smoothing import DEFAULT_SMOOTHING, Smoother, parse_smoothing_text

AV_DIR = Path("/work/shared/data/av/cremad")
OUT = Path("benchmarks/results/label_stability.json")
BEFORE = "ema:0.3"
MEDIAN_LIMIT_S = 0.5
MAX_LIMIT_S = 1.0
FLIP_TIE = 0.05  # flips/s within 5 % of the fewest are a tie (~1 flip in 100 clips)
CLASS_NAMES = ("negative", "neutral", "positive")
SYNTHETIC_CLIPS = 60
SYNTHETIC_FPS = 30.0


# ------------------------------------------------------------------------------------ sequences
@dataclass
class Clip:
    """One recorded (or synthetic) still clip: per record time, raw probabilities, key."""

    name: str
    split: str  # "tune" or "heldout"
    condition: str  # "av" (face + voice when the voice is there) or "face"
    source: str  # "demo", "cross-voice", "mirror", "dim", "synthetic"
    true: str
    t: np.ndarray  # (T,) media seconds
    probs: np.ndarray  # (T, C); rows of a record without a prediction are NaN
    keys: list[Hashable]  # (engine, modalities) per record; None = nothing predicted

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "split": self.split,
            "condition": self.condition,
            "source": self.source,
            "true": self.true,
            "t": self.t.tolist(),
            "probs": [None if np.isnan(r).any() else r.tolist() for r in self.probs],
            "keys": [None if k is None else [k[0], list(k[1])] for k in self.keys],
        }

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Clip:
        width = len(CLASS_NAMES)
        probs = np.array([[np.nan] * width if p is None else p for p in row["probs"]], float)
        keys = [None if k is None else (k[0], tuple(k[1])) for k in row["keys"]]
        fields = {k: row[k] for k in ("name", "split", "condition", "source", "true")}
        return cls(**fields, t=np.asarray(row["t"], float), probs=probs, keys=keys)


class _Transformed:
    """An OpenCV capture whose frames go through ``change`` (mirror, dim): new inputs, same clip."""

    def __init__(self, capture: Any, change: Callable[[np.ndarray], np.ndarray]) -> None:
        self._capture, self._change = capture, change

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return bool(self._capture.isOpened())

    def read(self) -> tuple[bool, Any]:
        ok, image = self._capture.read()
        return (ok, self._change(image)) if ok and image is not None else (ok, image)

    def get(self, prop_id: int) -> float:
        return float(self._capture.get(prop_id))

    def release(self) -> None:
        self._capture.release()


def _mirror(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def _dimmer(seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """Darker frames (gamma 1.6, x0.8) with Gaussian sensor noise (sigma 6 grey levels), seeded
    per clip so a rerun sees the same noise."""
    rng = np.random.default_rng(seed)

    def dim(image: np.ndarray) -> np.ndarray:
        dark = 255.0 * (image.astype(np.float32) / 255.0) ** 1.6 * 0.8
        noisy = dark + rng.normal(0.0, 6.0, image.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)

    return dim


def record(
    clip: Path,
    mic: str,
    *,
    name: str,
    split: str,
    condition: str,
    source: str,
    change: Callable[[np.ndarray], np.ndarray] | None = None,
    options: dict[str, Any] | None = None,
    retries: int = 3,
) -> Clip:
    """The loop's raw records on one clip (``smoothing="none"``), as a :class:`Clip`.

    options : further :class:`RunConfig` fields (``synthetic_mask``).
    Retries after a pause: the detector may be swapped under us while another engineer works."""
    config = RunConfig(
        camera=str(clip),
        mic=mic,
        realtime=False,
        smoothing="none",
        show=False,
        save=None,
        **(options or {}),
    )
    for attempt in range(retries):
        try:
            video = None
            if change is not None:
                video = VideoSource(
                    lambda path=str(clip): _Transformed(cv2.VideoCapture(path), change),
                    name=f"{source}:{clip.name}",
                    live=False,
                    paced=False,
                )
            summary = run_live(config, video=video)
            if summary.error:
                raise RuntimeError(summary.error)
            break
        except Exception as exc:  # noqa: BLE001 (a mid-edit detector; retried, then raised)
            if attempt == retries - 1:
                raise
            print(f"  {name}: {exc!r}; retrying in 60 s")
            time.sleep(60)
    t, probs, keys = [], [], []
    for row in summary.records:
        t.append(float(row["t"]))
        got = row.get("probs")
        if got and row.get("engine"):
            probs.append([float(got[c]) for c in CLASS_NAMES])
            keys.append((str(row["engine"]), tuple(row.get("modalities") or ())))
        else:
            probs.append([np.nan] * len(CLASS_NAMES))
            keys.append(None)
    return Clip(
        name=name,
        split=split,
        condition=condition,
        source=source,
        true=true_label(clip)[1],
        t=np.asarray(t, float),
        probs=np.asarray(probs, float).reshape(-1, len(CLASS_NAMES)),
        keys=keys,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def same_as_demo(folder: Path = AV_DIR) -> dict[str, bool]:
    """Whether each ``folder/*.flv`` is byte-identical to the packaged demo clip of that name."""
    demo = {p.name: _digest(p) for p in demo_clips()}
    return {p.name: demo.get(p.name) == _digest(p) for p in sorted(folder.glob("*.flv"))}


def record_all(log: Callable[[str], None] = print) -> list[Clip]:
    """Every real sequence: held-out demo (av, face) and the tuning variants (see the docstring)."""
    clips: list[Clip] = []

    def add(clip: Path, mic: str, name: str, split: str, condition: str, source: str,
            change: Callable[[np.ndarray], np.ndarray] | None = None,
            options: dict[str, Any] | None = None) -> None:  # fmt: skip
        clips.append(record(clip, mic, name=name, split=split, condition=condition,
                            source=source, change=change, options=options))  # fmt: skip

    both = (("video", "av"), ("none", "face"))
    for clip in demo_clips():
        for mic, condition in both:
            add(clip, mic, f"demo/{condition}/{clip.stem}", "heldout", condition, "demo")
    identical = same_as_demo()
    faces = sorted(AV_DIR.glob("*.flv"))
    voices = sorted(AV_DIR.glob("*.mp3"))
    masks = "synthetic_mask" in {f.name for f in dataclasses.fields(RunConfig)}
    for n, clip in enumerate(faces):
        if not identical.get(clip.name, False):  # new data: tuned on as it is
            for mic, condition in both:
                add(clip, mic, f"av/{condition}/{clip.stem}", "tune", condition, "av")
        for voice in voices[n % 2 :: 2]:  # three of the other actor's voices, alternating
            name = f"cross/{clip.stem}+{voice.stem}"
            add(clip, str(voice), name, "tune", "av", "cross-voice")
        add(clip, "video", f"mirror/av/{clip.stem}", "tune", "av", "mirror", _mirror)
        add(clip, "none", f"mirror/face/{clip.stem}", "tune", "face", "mirror", _mirror)
        dim = _dimmer(zlib.crc32(clip.name.encode()))
        add(clip, "none", f"dim/face/{clip.stem}", "tune", "face", "dim", dim)
        if masks:  # the masked case the toolkit is for, where the loop can draw the mask
            for mic, condition in both:
                name = f"masked/{condition}/{clip.stem}"
                add(clip, mic, name, "tune", condition, "masked", None, {"synthetic_mask": True})
        log(f"  recorded the variants of {clip.name}")
    return clips


def synthetic_clips(count: int = SYNTHETIC_CLIPS, seed: int = 0) -> list[Clip]:
    """Still face sequences in logit space: mean + AR(1) noise + short bursts of another class.

    Per clip: the true class leads the others' mean logits by a gap of 0.2-2.4 (some clips are
    nearly ties, as a masked face often is), noise with per-frame correlation 0.4-0.9 and standard
    deviation 0.5-1.3, and bursts (0.6 per second, 2-10 frames, +2 to +4 on another class) like a
    blink or a word; the ranges span what :func:`noise_stats` measures on the real face sequences
    (written with the results). Length 1.8-2.6 s at 30 fps, one key throughout.
    """
    rng = np.random.default_rng(seed)
    width = len(CLASS_NAMES)
    clips = []
    for i in range(count):
        true = i % width
        frames = int(rng.integers(54, 79))
        mean = rng.normal(0.0, 0.3, width)
        mean[true] += rng.uniform(0.2, 2.4)
        rho, sigma = rng.uniform(0.4, 0.9), rng.uniform(0.5, 1.3)
        noise = np.zeros((frames, width))
        noise[0] = rng.normal(0.0, sigma, width)
        for k in range(1, frames):
            noise[k] = rho * noise[k - 1] + np.sqrt(1 - rho**2) * rng.normal(0.0, sigma, width)
        logits = mean + noise
        for start in np.flatnonzero(rng.random(frames) < 0.6 / SYNTHETIC_FPS):
            other = int(rng.choice([c for c in range(width) if c != true]))
            logits[start : start + int(rng.integers(2, 11)), other] += rng.uniform(2.0, 4.0)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        clips.append(
            Clip(
                name=f"synthetic/{i:02d}",
                split="tune",
                condition="face",
                source="synthetic",
                true=CLASS_NAMES[true],
                t=np.arange(frames) / SYNTHETIC_FPS,
                probs=probs,
                keys=[("face", ("face",))] * frames,  # as the face model's
            )
        )
    return clips


# --------------------------------------------------------------------------------------- replay
@dataclass
class _Row:
    """One sequence to replay: probabilities and keys (padded later), where the switch is."""

    probs: np.ndarray
    keys: list[Hashable]
    switch: int = 0  # first index of B in a pair

    @functools.cached_property
    def signature(self) -> tuple[Hashable, ...]:
        """The key schedule as (key, count) runs, the last run open: rows with equal signatures
        have equal keys at every index once each is padded with its last record."""
        runs: list[list[Any]] = []
        for key in self.keys:
            if runs and runs[-1][0] == key:
                runs[-1][1] += 1
            else:
                runs.append([key, 1])
        return (*((k, n) for k, n in runs[:-1]), ("open", runs[-1][0]))


def replay(text: str, rows: Sequence[_Row]) -> list[np.ndarray]:
    """Labels (index per record, -1 = none) of the smoother ``text`` on each row.

    Rows with the same key at every index (after padding each with its last record) run as one batch
    through one smoother: the smoothers keep per-row state, so that is the same as one at a time,
    and far faster. A None key resets the smoother, as the loop does when nothing was predicted."""
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(rows)
    groups: dict[tuple[Hashable, ...], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.signature, []).append(i)
    for signature, members in groups.items():
        length = max(len(rows[i].keys) for i in members)
        keys = [k for k, n in signature[:-1] for _ in range(n)]
        keys += [signature[-1][1]] * (length - len(keys))
        probs = np.stack([_pad(rows[i].probs, length) for i in members])  # (N, T, C)
        labels = np.full((len(members), length), -1, dtype=np.int64)
        smoother = parse_smoothing_text(text)
        for k, key in enumerate(keys):
            if key is None:
                smoother.reset()
                continue
            smoother.update(probs[:, k], key)
            labels[:, k] = _labels(smoother)
        for j, i in enumerate(members):
            out[i] = labels[j, : len(rows[i].keys)]
    return out


def _pad(probs: np.ndarray, length: int) -> np.ndarray:
    extra = length - len(probs)
    return np.concatenate([probs, np.repeat(probs[-1:], extra, axis=0)]) if extra else probs


def _labels(smoother: Smoother) -> np.ndarray:
    labels = smoother.labels
    if labels is None:
        raise RuntimeError("a smoother gave no labels after an update")
    return labels


def _clean(clip: Clip, start: int = 0) -> _Row:
    """The loop's records (from ``start``) as replay input: NaN rows (nothing predicted) keep a
    None key."""
    probs = np.where(np.isnan(clip.probs), 1.0 / clip.probs.shape[1], clip.probs)
    return _Row(probs=probs[start:], keys=list(clip.keys[start:]))


def _first_hit(labels: np.ndarray, t: np.ndarray, goal: int) -> float:
    """Seconds from ``t[0]`` until ``labels`` first equals ``goal``; inf when it never does."""
    hit = np.flatnonzero(labels == goal)
    return float(t[hit[0]] - t[0]) if len(hit) else float("inf")


def pair_row(a: Clip, b: Clip) -> tuple[_Row, int]:
    """A then B from B's first record with A's last key (B whole when it has none): the row and
    the index in B where the switch lands."""
    last = next((k for k in reversed(a.keys) if k is not None), None)
    start = next((i for i, k in enumerate(b.keys) if k == last), 0)
    ra, rb = _clean(a), _clean(b)
    row = _Row(
        probs=np.concatenate([ra.probs, rb.probs[start:]]),
        keys=ra.keys + rb.keys[start:],
        switch=len(ra.keys),
    )
    return row, start


# -------------------------------------------------------------------------------------- metrics
def flips_per_second(labels: np.ndarray, t: np.ndarray) -> float:
    """Label changes between consecutive labelled records, per second of the clip."""
    shown = [(ti, lab) for ti, lab in zip(t, labels, strict=True) if lab >= 0]
    if len(shown) < 2:
        return 0.0
    flips = sum(1 for (_, x), (_, y) in zip(shown, shown[1:], strict=False) if x != y)
    span = shown[-1][0] - shown[0][0]
    return flips / span if span > 0 else 0.0


def settled(labels: np.ndarray) -> int:
    """The label a smoother settles on: the majority of the last third (ties: the latest)."""
    tail = [int(x) for x in labels[len(labels) - max(1, len(labels) // 3) :] if x >= 0]
    if not tail:
        return -1
    counts = Counter(tail)
    best = max(counts.values())
    return next(x for x in reversed(tail) if counts[x] == best)


def majority(labels: np.ndarray) -> int:
    counts = Counter(int(x) for x in labels if x >= 0)
    return counts.most_common(1)[0][0] if counts else -1


@dataclass
class SetResult:
    """One candidate on one set of clips."""

    flips: list[float] = field(default_factory=list)
    agree_majority: list[float] = field(default_factory=list)
    agree_true: list[float] = field(default_factory=list)
    delays: dict[tuple[int, int], float] = field(default_factory=dict)  # inf = never
    lags: dict[tuple[int, int], float] = field(default_factory=dict)  # delay - B's own
    goals: list[int] = field(default_factory=list)  # each clip's settled label

    def summary(self) -> dict[str, Any]:
        finite = [d for d in self.delays.values() if np.isfinite(d)]
        never = len(self.delays) - len(finite)
        return {
            "clips": len(self.flips),
            "flips_per_s_mean": _r(statistics.fmean(self.flips)) if self.flips else None,
            "flips_per_s_max": _r(max(self.flips)) if self.flips else None,
            "agree_majority_raw": _r(statistics.fmean(self.agree_majority)),
            "agree_true": _r(statistics.fmean(self.agree_true)),
            "pairs": len(self.delays),
            "delay_s_median": _r(_median(list(self.delays.values()))),
            "delay_s_max": None if never else _r(max(finite, default=0.0)),
            "delay_never": never,
        }


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def _rank(values: list[float], q: float) -> float:
    """The nearest-rank q-th percentile: no interpolation, so a pair that never got there (inf)
    stays inf instead of turning the percentile into NaN."""
    ordered = sorted(values)
    return ordered[max(0, int(np.ceil(q / 100 * len(ordered))) - 1)]


def evaluate(
    text: str,
    sets: dict[str, list[Clip]],
    raw: dict[str, list[int]],
    cache: dict[tuple[Any, ...], Any] | None = None,
) -> dict[str, SetResult]:
    """Flips, agreement and follow delays of smoother ``text`` on every set of clips.

    Two replays in all (clips alone, then pairs and B's fresh segments), each batching every set.
    cache : rows built for an earlier candidate (they do not depend on the smoother)."""
    cache = {} if cache is None else cache

    def clean(name: str, k: int, start: int = 0) -> _Row:
        if ("clean", name, k, start) not in cache:
            cache[("clean", name, k, start)] = _clean(sets[name][k], start)
        return cache[("clean", name, k, start)]

    def pair(name: str, i: int, j: int) -> tuple[_Row, int]:
        if ("pair", name, i, j) not in cache:
            cache[("pair", name, i, j)] = pair_row(sets[name][i], sets[name][j])
        return cache[("pair", name, i, j)]

    names = {n: i for i, n in enumerate(CLASS_NAMES)}
    order = [(name, k) for name, members in sets.items() for k in range(len(members))]
    alone = replay(text, [clean(name, k) for name, k in order])
    labels_of = dict(zip(order, alone, strict=True))
    results = {name: SetResult() for name in sets}
    jobs: list[tuple[str, int, int, int]] = []  # set, A, B, B's start
    rows: list[_Row] = []
    segments: dict[tuple[str, int, int], int] = {}  # (set, B, start) -> row index
    for name, members in sets.items():
        result = results[name]
        goal = [settled(labels_of[(name, k)]) for k in range(len(members))]
        for k, clip in enumerate(members):
            labels = labels_of[(name, k)]
            result.flips.append(flips_per_second(labels, clip.t))
            shown = labels[labels >= 0]
            agree = float(np.mean(shown == raw[name][k])) if len(shown) else 0.0
            truth = float(np.mean(shown == names[clip.true])) if len(shown) else 0.0
            result.agree_majority.append(agree)
            result.agree_true.append(truth)
        result.goals = goal
        for i, j in itertools.permutations(range(len(members)), 2):
            if goal[i] == goal[j] or min(goal[i], goal[j]) < 0:
                continue
            row, start = pair(name, i, j)
            jobs.append((name, i, j, start))
            rows.append(row)
            if (name, j, start) not in segments:
                segments[(name, j, start)] = -1
    if not rows:
        return results
    # B from the same start on a fresh smoother: how soon B's own content shows its settled label,
    # so the lag (delay minus that) is the time spent forgetting A: the smoother's own cost.
    seg_keys = list(segments)
    for n, (name, j, start) in enumerate(seg_keys):
        segments[(name, j, start)] = len(rows) + n
    seg_rows = [clean(name, j, start) for name, j, start in seg_keys]
    labels_all = replay(text, rows + seg_rows)
    for (name, i, j, start), row, labels in zip(jobs, rows, labels_all, strict=False):
        result, clip = results[name], sets[name][j]
        goal = result.goals[j]
        delay = _first_hit(labels[row.switch :], clip.t[start:], goal)
        own = _first_hit(labels_all[segments[(name, j, start)]], clip.t[start:], goal)
        result.delays[(i, j)] = delay
        if not np.isfinite(delay):
            result.lags[(i, j)] = float("inf")
        else:
            result.lags[(i, j)] = delay - own if np.isfinite(own) else 0.0
    return results


# ----------------------------------------------------------------------------------- candidates
def candidates() -> list[str]:
    """Every smoother text to replay: averaging x hysteresis margin x minimum dwell."""
    bases = ["none"]
    bases += [f"ema:{a}" for a in (0.1, 0.15, 0.2, 0.3, 0.5)]
    bases += [f"logema:{a}" for a in (0.1, 0.15, 0.2, 0.3, 0.5)]
    bases += [f"window:{n}" for n in (3, 5, 8, 12, 16)]
    texts = []
    for base in bases:
        for margin in (0.0, 0.05, 0.1, 0.15, 0.2):
            for hold in (0, 3, 6, 9, 12, 15):
                text = base
                if margin:
                    text += f":margin={margin}"
                if hold:
                    text += f":hold={hold}"
                texts.append(text)
    return texts


def _options(text: str) -> int:
    """How many settings a text form carries (the simpler of two equals wins)."""
    return text.count(":")


SETS: dict[str, Callable[[Clip], bool]] = {
    "tune/av": lambda c: c.split == "tune" and c.condition == "av",
    "tune/face": lambda c: c.split == "tune" and c.condition == "face" and c.source != "synthetic",
    "tune/synthetic": lambda c: c.source == "synthetic",
    "heldout/av": lambda c: c.split == "heldout" and c.condition == "av",
    "heldout/face": lambda c: c.split == "heldout" and c.condition == "face",
}
TUNE_SETS = ("tune/av", "tune/face", "tune/synthetic")
HELDOUT_SETS = ("heldout/av", "heldout/face")


def split_sets(clips: Sequence[Clip]) -> dict[str, list[Clip]]:
    return {name: [c for c in clips if keep(c)] for name, keep in SETS.items()}


def run_all(
    texts: Iterable[str], clips: Sequence[Clip], log: Callable[[str], None] = print
) -> dict[str, dict[str, SetResult]]:
    """Every candidate on every set (the raw majority label from ``none``)."""
    sets = split_sets(clips)
    raw = {
        name: [majority(lab) for lab in replay("none", [_clean(c) for c in members])]
        for name, members in sets.items()
    }
    results: dict[str, dict[str, SetResult]] = {}
    texts = list(texts)
    cache: dict[tuple[Any, ...], Any] = {}
    for n, text in enumerate(texts):
        results[text] = evaluate(text, sets, raw, cache)
        if (n + 1) % 100 == 0:
            log(f"  replayed {n + 1}/{len(texts)} smoothers")
    return results


def _lag_limit(name: str, lags: list[float]) -> tuple[float, float]:
    """(median, worst) lag of one tuning set as the rule reads it: the max on real pairs, the 95th
    percentile on synthetic ones (near-ties by construction, whose single worst pair says little)."""
    if not lags:
        return 0.0, 0.0
    worst = _rank(lags, 95) if name == "tune/synthetic" else max(lags)
    return _median(lags), worst


def choose(results: dict[str, dict[str, SetResult]]) -> tuple[str, list[dict[str, Any]]]:
    """The rule of the docstring: of the candidates that follow a change fast enough on every
    tuning set, the fewest flips/s (tuning sets weighted equally; within FLIP_TIE of the fewest
    counts as a tie, won by fewer settings, then by the shorter median lag)."""
    table = []
    for text, result in results.items():
        flips = statistics.fmean(statistics.fmean(result[s].flips) for s in TUNE_SETS)
        limits = {s: _lag_limit(s, list(result[s].lags.values())) for s in TUNE_SETS}
        feasible = all(m <= MEDIAN_LIMIT_S and w <= MAX_LIMIT_S for m, w in limits.values())
        table.append(
            {
                "smoothing": text,
                "tune_flips_per_s": round(flips, 4),
                "tune_lag_s": {
                    s: {"median": _r(m), "worst": _r(w)} for s, (m, w) in limits.items()
                },
                "heldout_flips_per_s": {
                    s: _r(statistics.fmean(result[s].flips)) for s in HELDOUT_SETS
                },
                "feasible": feasible,
            }
        )
    feasible = [row for row in table if row["feasible"]]
    fewest = min(row["tune_flips_per_s"] for row in feasible)
    tied = [row for row in feasible if row["tune_flips_per_s"] <= fewest * (1 + FLIP_TIE)]
    best = min(
        tied,
        key=lambda r: (
            _options(r["smoothing"]),
            max(v["median"] or 0.0 for v in r["tune_lag_s"].values()),
            r["tune_flips_per_s"],
        ),
    )
    return best["smoothing"], table


# -------------------------------------------------------------------------------------- outputs
def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.chmod(temp, 0o644)  # mkstemp makes it private; results are for everyone to read
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def noise_stats(clips: Sequence[Clip]) -> dict[str, float | int]:
    """How noisy still face sequences are, in centred log-probabilities (floor 1e-3): the gap of
    the top mean class over the second, the residual's standard deviation and its lag-1
    correlation (medians and ranges over clips). The synthetic generator's ranges span these."""
    gaps, sds, rhos = [], [], []
    for clip in clips:
        rows = clip.probs[~np.isnan(clip.probs).any(axis=1)]
        if len(rows) < 3:
            continue
        logs = np.log(np.clip(rows, 1e-3, None))
        logs -= logs.mean(axis=1, keepdims=True)
        mean = logs.mean(axis=0)
        top = np.sort(mean)[::-1]
        residual = logs - mean
        gaps.append(top[0] - top[1])
        sds.append(residual.std())
        rhos.append(
            np.nanmean(
                [np.corrcoef(residual[:-1, k], residual[1:, k])[0, 1] for k in range(rows.shape[1])]
            )
        )
    out: dict[str, float | int] = {"clips": len(gaps)}
    for name, values in (("gap", gaps), ("sd", sds), ("rho", rhos)):
        if values:
            out[f"{name}_median"] = _r(float(np.median(values)), 2) or 0.0
            out[f"{name}_min"] = _r(float(np.min(values)), 2) or 0.0
            out[f"{name}_max"] = _r(float(np.max(values)), 2) or 0.0
    return out


def label_string(text: str, clip: Clip) -> str:
    """The labels a smoother shows on one clip, one letter per record (N/U/P, - = none, | = the
    key changed), to see what a user sees."""
    labels = replay(text, [_clean(clip)])[0]
    out, previous = [], None
    for key, label in zip(clip.keys, labels, strict=True):
        if previous is not None and key != previous:
            out.append("|")
        previous = key
        out.append("-" if label < 0 else "NUP"[label])
    return "".join(out)


def _lag_summary(result: SetResult) -> dict[str, Any]:
    lags = list(result.lags.values())
    finite = [x for x in lags if np.isfinite(x)]
    return {
        "lag_s_median": _r(_median(lags)),
        "lag_s_p95": _r(_rank(lags, 95)) if lags else None,
        "lag_s_max": _r(max(finite)) if finite and len(finite) == len(lags) else None,
    }


def report(
    results: dict[str, dict[str, SetResult]],
    chosen: str,
    table: list[dict[str, Any]],
    clips: Sequence[Clip],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The JSON written: rule, data, before/after per set, every candidate's row."""
    sets = split_sets(clips)

    def per_set(text: str) -> dict[str, Any]:
        return {
            name: {**results[text][name].summary(), **_lag_summary(results[text][name])}
            for name in sets
        }

    demo_happy = [c for c in sets["heldout/av"] + sets["heldout/face"] if "_HAP_" in c.name]
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/label_stability.py",
        **extra,
        "rule": (
            "feasible: on every tuning set the follow lag (lag_s) has "
            f"median <= {MEDIAN_LIMIT_S} s and worst <= {MAX_LIMIT_S} s (worst = max over real "
            "pairs, 95th percentile over synthetic pairs); choose the fewest mean flips/s over the "
            f"tuning sets (av, face, synthetic weighted equally); within {FLIP_TIE:.0%} of the "
            "fewest is a tie, won by fewer settings, then by the shorter median lag"
        ),
        "definitions": {
            "flips_per_s": "label changes between consecutive records after the first, / seconds",
            "agree_majority_raw": "share of records showing the clip's majority raw (none) label",
            "agree_true": "share of records showing the clip's true class",
            "delay_s": (
                "A then B (from B's first record with A's last key): seconds from the switch until "
                "the label first equals B's settled label (majority of the last third on B alone); "
                "pairs whose settled labels differ; never = did not get there within B"
            ),
            "lag_s": (
                "delay minus the time the same smoother, fresh, needs on B from the same record: "
                "the time spent forgetting A (B's own content excluded)"
            ),
        },
        "sets": {
            name: {
                "clips": len(members),
                "sources": dict(Counter(c.source for c in members)),
            }
            for name, members in sets.items()
        },
        "noise": {
            "tune/face": noise_stats(sets["tune/face"]),
            "heldout/face": noise_stats(sets["heldout/face"]),
            "tune/synthetic": noise_stats(sets["tune/synthetic"]),
        },
        "before": {"smoothing": BEFORE, "sets": per_set(BEFORE)},
        "after": {"smoothing": chosen, "sets": per_set(chosen)},
        "none": {"smoothing": "none", "sets": per_set("none")},
        "shipped_default": DEFAULT_SMOOTHING,
        "shipped_default_is_chosen": chosen == DEFAULT_SMOOTHING,
        "demo_happy_labels": {
            c.name: {text: label_string(text, c) for text in ("none", BEFORE, chosen)}
            for c in demo_happy
        },
        "candidates": table,
    }


def _cell(summary: dict[str, Any], key: str, unit: str = "") -> str:
    value = summary.get(key)
    return "never" if value is None else f"{value:.2f}{unit}"


def markdown(result: dict[str, Any]) -> str:
    """The human summary: before/after per set, the rule, the best feasible candidates."""
    after, before = result["after"]["smoothing"], result["before"]["smoothing"]
    lines = [
        "# Label stability of the live loop's smoothing",
        "",
        f"{result['created']}; `{result['command']}` ({result['seconds']:.0f} s). Raw per-frame "
        "probabilities of the real loop (offline, every frame, `smoothing=none`, default engines) "
        "replayed through each candidate of `edgefer.live.smoothing`.",
        "",
        f"**Chosen default: `{after}`** (before: `{before}`). Shipped `DEFAULT_SMOOTHING` = "
        f"`{result['shipped_default']}`"
        + ("." if result["shipped_default_is_chosen"] else " -- DIFFERS from this run's choice."),
        "",
        f"Rule: {result['rule']}.",
        "",
        *(f"- {name}: {text}." for name, text in result["definitions"].items()),
        "",
        "| set | clips | smoothing | flips/s mean (max) | agree raw majority | pairs | "
        "delay median / max | lag median / max |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in SETS:
        for label, key in (("none", "none"), ("before", "before"), ("after", "after")):
            row = result[key]["sets"][name]
            never = f" ({row['delay_never']} never)" if row["delay_never"] else ""
            lines.append(
                f"| {name} | {row['clips']} | {label} `{result[key]['smoothing']}` | "
                f"{row['flips_per_s_mean']:.2f} ({row['flips_per_s_max']:.2f}) | "
                f"{row['agree_majority_raw']:.2f} | {row['pairs']} | "
                f"{_cell(row, 'delay_s_median')} / {_cell(row, 'delay_s_max')} s{never} | "
                f"{_cell(row, 'lag_s_median')} / {_cell(row, 'lag_s_max')} s |"
            )
    lines += [
        "",
        "Sets: "
        + "; ".join(
            f"`{name}` {info['clips']} ({', '.join(f'{k} {v}' for k, v in info['sources'].items())})"
            for name, info in result["sets"].items()
        )
        + ".",
        "",
        "The demo's happy clip (one letter per record: N negative, U neutral, P positive; `|` where "
        "the loop switched between the face and the fused model, which resets the smoother):",
        "",
    ]
    for name, strings in result["demo_happy_labels"].items():
        for text, string in strings.items():
            lines.append(f"- `{name}` `{text}`: `{string}`")
    feasible = [row for row in result["candidates"] if row["feasible"]]
    feasible.sort(key=lambda r: r["tune_flips_per_s"])
    lines += [
        "",
        f"{len(feasible)} of {len(result['candidates'])} candidates meet the delay limits; the 12 "
        "with the fewest tuning flips/s (worst lag per tuning set; held-out flips for reference):",
        "",
        "| smoothing | tuning flips/s | worst lag av / face / synthetic (s) | held-out flips/s av / "
        "face |",
        "| --- | --- | --- | --- |",
    ]
    for row in feasible[:12]:
        lag = " / ".join(f"{row['tune_lag_s'][s]['worst']:.2f}" for s in TUNE_SETS)
        held = " / ".join(f"{row['heldout_flips_per_s'][s]:.2f}" for s in HELDOUT_SETS)
        mark = " **chosen**" if row["smoothing"] == after else ""
        lines.append(
            f"| `{row['smoothing']}`{mark} | {row['tune_flips_per_s']:.3f} | {lag} | {held} |"
        )
    lines += ["", *NOTES, ""]
    return "\n".join(lines)


NOTES = [
    "Notes:",
    "",
    "- `/work/shared/data/av/cremad/*.flv` are byte-identical to the six demo clips "
    "(`av_clips_identical_to_demo` in the JSON), so the only real still clips are those six faces "
    "of one actor. Tuning uses them under other conditions (three of the other actor's voices "
    "each, mirrored, dimmed with noise, masked by the project's synthetic mask) plus synthetic "
    "sequences whose noise spans what the real face sequences show (`noise` in the JSON); the "
    "demo clips as they ship are the held-out view. So the held-out view checks fitting to the "
    "demo's exact sequences, not generalisation to new people.",
    "- The clips are not perfectly still: the fused model waits for a voice window and several "
    "clips change their raw label mid-utterance (disgust and fear end positive). The delay "
    "(first time the label equals B's settled label, as asked) therefore includes B's own content "
    "and rewards flicker that passes through the right label early; even `none` exceeds 1 s. The "
    "rule limits the lag instead, the part the smoother adds. Both are reported.",
    "- `alpha`, `window` N and `hold` count inferences: the clips run one inference per frame "
    "(29.97/s); with a lower `--rate` the same text smooths over proportionally longer times.",
    "- With a `margin` or `hold` the shown label can differ from the argmax of the smoothed "
    "probabilities (which stay the plain average): the loop takes the label from "
    "`Smoother.labels`.",
    "- Development history, for honesty: the rule was revised once (a first version limited the "
    "delay beyond `none`'s own on the same pair, but `none`'s first hit is often a one-frame "
    "flicker, so no smoother, today's default included, met it), and the dwell grid was extended "
    "from 0-9 to 0-15 updates after the best candidates sat at its edge. Held-out numbers were "
    "visible while developing. Many candidates are within a few per cent of each other, so a "
    "rerun on other detector output can pick a neighbour; `shipped_default_is_chosen` says "
    "whether `DEFAULT_SMOOTHING` still matches.",
]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--cache", type=Path, default=None, help="reuse recorded sequences from / save them to"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_start = _load_average()
    if args.cache is not None and args.cache.is_file():
        clips = [Clip.from_json(row) for row in json.loads(args.cache.read_text())]
        print(f"{len(clips)} recorded sequences from {args.cache}")
    else:
        print("recording the loop's raw probabilities (the first run builds the INT8 engine)")
        clips = record_all()
        if args.cache is not None:
            write_atomic(args.cache, json.dumps([c.to_json() for c in clips]))
    recorded_s = time.perf_counter() - started
    clips = clips + synthetic_clips()
    texts = candidates()
    print(f"replaying {len(texts)} smoothers over {len(clips)} sequences")
    results = run_all(texts, clips)
    chosen, table = choose(results)
    extra = {
        "seconds": round(time.perf_counter() - started, 1),
        "recording_s": round(recorded_s, 1),
        "load_average": {"start": load_start, "end": _load_average()},
        "av_clips_identical_to_demo": same_as_demo(),
    }
    result = report(results, chosen, table, clips, extra)
    write_atomic(args.out, json.dumps(result, indent=1) + "\n")
    write_atomic(args.out.with_suffix(".md"), markdown(result))
    b, a = result["before"]["sets"], result["after"]["sets"]
    print(f"chosen: {chosen} (shipped default {DEFAULT_SMOOTHING})")
    for name in SETS:
        print(
            f"  {name:15s} flips/s {b[name]['flips_per_s_mean']:.2f} -> "
            f"{a[name]['flips_per_s_mean']:.2f} ({a[name]['clips']} clips); delay median "
            f"{b[name]['delay_s_median']} -> {a[name]['delay_s_median']} s"
        )
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return result


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    main()
