"""The trained complaint classifier: category and priority from a complaint's text.

Pure Python and scikit-learn, no Django: it is trained, evaluated and tested on plain
lists of :class:`LabelledText`; ``routing.model_store`` stores it in the database and hands
the active version to every process.

Features. Complaints arrive in Simplified Chinese and in English, often mixed ("58路",
"WiFi"). Chinese has no spaces and we do not ship a word segmenter, so Chinese text is
described by character n-grams 1–3 (a 2- or 3-gram is usually a word or most of one:
"救护车", "漏水"); Latin text by lower-cased word uni- and bigrams, plus character
3–5-grams inside words for typos and word forms ("offical", "leaking"). Each vectoriser
sees only its own script, so Chinese never produces "words" and English never produces
Chinese n-grams. Digits become ``0`` (a run of digits becomes one ``0``) so that
phone numbers, dates and house numbers do not become features. All weights are tf-idf
with sublinear tf: a word repeated in a long rant should not outweigh a word said once.

Heads. Category (one of the corpus' codes) and priority (normal, urgent, critical) are
two multinomial logistic regressions on the same features, each wrapped in
``CalibratedClassifierCV`` (sigmoid, cross-validated on the training data) so that the
scores are probabilities a confidence threshold can be set on. ``ensemble=False`` keeps
one linear model fitted on all data, whose coefficients explain a prediction.

Priority is decided for safety, not for accuracy: missing an urgent complaint is much
worse than looking at a normal one too early. The two thresholds of the decision
(:func:`decide_priority`) are chosen during training from out-of-fold probabilities to
reach the recall target for urgent+critical with as few normal complaints raised as
possible, and are stored in the model.
"""

from __future__ import annotations

import io
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

DEFAULT_CORPUS = Path(__file__).parent / "data" / "demo_corpus.jsonl"

NORMAL, URGENT, CRITICAL = "normal", "urgent", "critical"
PRIORITIES = (NORMAL, URGENT, CRITICAL)

# The recall of urgent+critical complaints the priority thresholds are tuned for.
RECALL_TARGET = 0.95

# Bumped whenever the pickled layout changes incompatibly; from_bytes refuses others.
FORMAT_VERSION = 1
_MAGIC = b"SUTONG-CLASSIFIER\n"


class ModelFormatError(ValueError):
    """The bytes are not a classifier model this code can load."""


class LabelledText(NamedTuple):
    """One training example. ``language`` (zh|en) is optional, used only for reports."""

    text: str
    category: str
    priority: str
    language: str = ""


@dataclass(frozen=True)
class Prediction:
    category: str
    category_confidence: float
    category_scores: dict[str, float]
    priority: str
    priority_scores: dict[str, float]
    # The n-grams that pushed hardest toward ``category``, with their contribution to its
    # logit (bigger = more decisive); for showing the dispatcher why.
    explanation: list[tuple[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "category_confidence": self.category_confidence,
            "category_scores": self.category_scores,
            "priority": self.priority,
            "priority_scores": self.priority_scores,
            "explanation": [[term, weight] for term, weight in self.explanation],
        }


# --- Text -------------------------------------------------------------------------------

# CJK ideographs (unified, extension A, compatibility) plus the urgency marks people type;
# NFKC has already folded full-width "！？" to ASCII.
_NOT_CHINESE = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff!?]+")
_NOT_LATIN = re.compile(r"[^a-z']+")
_DIGITS = re.compile(r"\d+")
_WORD_PATTERN = r"[a-z][a-z']*[a-z]|[a-z]"


def normalise(text: str) -> str:
    """NFKC (full-width → ASCII), lower case, every run of digits → ``0``."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _DIGITS.sub("0", text)


def chinese_view(text: str) -> str:
    """Only the Chinese runs of ``text`` (and !/?), everything else a space."""
    return _NOT_CHINESE.sub(" ", normalise(text)).strip()


def latin_view(text: str) -> str:
    """Only the Latin words of ``text``, everything else a space."""
    return _NOT_LATIN.sub(" ", normalise(text)).strip()


def join_text(title: str, content: str) -> str:
    return f"{title.strip()}\n{content.strip()}"


# --- Heads ------------------------------------------------------------------------------


@dataclass
class _Head:
    """One calibrated linear classifier over a fixed list of classes.

    ``classes`` is the full label set; a model trained on a subset (a fold that missed a
    rare class, or training data with one class only) reports 0 for the missing ones.
    """

    classes: list[str]
    model: Any = None  # CalibratedClassifierCV(LinearSVC), LogisticRegression, or None
    constant: str | None = None
    calibration: str = "sigmoid"
    # Coefficients of the linear model, centred per feature over the classes (softmax is
    # invariant to that shift, so a centred weight says how much a feature favours a
    # class over the average class). Rows follow ``classes``.
    centred_coef: np.ndarray | None = None
    # The same model as plain arrays, for prediction: sklearn's predict_proba spends about
    # a millisecond per call validating its input, several times the arithmetic itself.
    # weights (features × k), intercept (k), sigmoid (2 × k: Platt's a and b per column,
    # None when uncalibrated); k is 1 for two classes, as in sklearn.
    weights: np.ndarray | None = None
    intercept: np.ndarray | None = None
    sigmoid: np.ndarray | None = None
    _columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def fit(
        self, X: sp.csr_matrix, y: Sequence[str], *, C: float, balanced: bool, folds: int
    ) -> _Head:
        present = sorted(set(y))
        if len(present) == 1:
            self.constant = present[0]
            self.calibration = "none"
            return self
        weights = "balanced" if balanced else None
        min_count = min(Counter(y).values())
        cv = min(folds, min_count)
        if cv >= 2:
            # A linear SVM scores as well as logistic regression on this text and trains
            # about a hundred times faster; Platt scaling turns its scores into
            # probabilities.
            svm = LinearSVC(C=C, class_weight=weights)
            self.model = CalibratedClassifierCV(svm, method="sigmoid", cv=cv, ensemble=False)
            self.model.fit(X, list(y))
            fitted = self.model.calibrated_classifiers_[0].estimator
        else:
            # A class with a single example cannot be split over folds: keep the logistic
            # regression's own probabilities, which are roughly calibrated already.
            self.calibration = "none"
            linear = LogisticRegression(C=C, class_weight=weights, max_iter=3000)
            self.model = linear.fit(X, list(y))
            fitted = self.model
        learnt = [str(c) for c in self.model.classes_]
        self._columns = np.array([self.classes.index(c) for c in learnt])
        coef = np.asarray(fitted.coef_, dtype=np.float64)
        self.weights = np.ascontiguousarray(coef.T)
        self.intercept = np.asarray(fitted.intercept_, dtype=np.float64)
        if self.calibration == "sigmoid":
            calibrators = self.model.calibrated_classifiers_[0].calibrators
            self.sigmoid = np.array([[c.a_ for c in calibrators], [c.b_ for c in calibrators]])
        if coef.shape[0] == 1:  # binary: sklearn keeps one row, for the second class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        full = np.zeros((len(self.classes), coef.shape[1]))
        full[self._columns] = coef - coef.mean(axis=0)
        self.centred_coef = full
        return self

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        out = np.zeros((X.shape[0], len(self.classes)))
        if self.constant is not None:
            out[:, self.classes.index(self.constant)] = 1.0
            return out
        out[:, self._columns] = self._learnt_proba(X)
        return out

    def _learnt_proba(self, X: sp.csr_matrix) -> np.ndarray:
        """What ``self.model.predict_proba(X)`` computes, without sklearn's overhead."""
        assert self.weights is not None
        assert self.intercept is not None
        decision = np.asarray(X @ self.weights) + self.intercept
        binary = decision.shape[1] == 1
        if self.sigmoid is None:  # the logistic regression's own probabilities
            if binary:
                positive = expit(decision[:, 0])
                return np.column_stack([1 - positive, positive])
            return softmax(decision, axis=1)
        # Platt scaling per class, one-vs-rest, then normalised (as CalibratedClassifierCV).
        proba = expit(-(self.sigmoid[0] * decision + self.sigmoid[1]))
        if binary:
            return np.column_stack([1 - proba[:, 0], proba[:, 0]])
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1 / proba.shape[1])
        return np.divide(proba, total, out=uniform, where=total > 0)


# --- Priority decision ------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """``critical`` if P(critical) ≥ critical, else ``urgent`` if P(urgent)+P(critical) ≥ urgent."""

    critical: float
    urgent: float


def decide_priority(p_urgent: float, p_critical: float, thresholds: Thresholds) -> str:
    if p_critical >= thresholds.critical:
        return CRITICAL
    if p_urgent + p_critical >= thresholds.urgent:
        return URGENT
    return NORMAL


def _decide_many(proba: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """Vectorised :func:`decide_priority`; ``proba`` columns follow PRIORITIES."""
    critical = proba[:, 2] >= thresholds.critical
    raised = proba[:, 1] + proba[:, 2] >= thresholds.urgent
    return np.where(critical, CRITICAL, np.where(raised, URGENT, NORMAL))


def _candidates(scores: np.ndarray, limit: int = 200) -> np.ndarray:
    """Thresholds between consecutive distinct scores (each one a different decision),
    plus one below and one above all; thinned to ``limit`` by quantiles on big data."""
    values = np.unique(np.round(scores, 9))
    if len(values) > limit:
        values = np.unique(np.quantile(values, np.linspace(0, 1, limit)))
    middles = (values[:-1] + values[1:]) / 2
    return np.concatenate([[0.0], middles, [1.0 + 1e-9]])


def choose_thresholds(
    proba: np.ndarray, y: Sequence[str], *, recall_target: float = RECALL_TARGET
) -> Thresholds:
    """The thresholds that catch ``recall_target`` of urgent+critical in ``proba``.

    ``proba`` are out-of-fold probabilities (columns: normal, urgent, critical) of the
    training examples ``y``. The critical threshold best separates critical from the
    rest (Youden's J: critical recall minus the share of others graded critical), since a
    false critical grade wakes the on-call leaders; the urgent threshold then reaches the
    recall target (critical grades count) raising the fewest normal complaints.
    Thresholds lie half-way between observed scores, so a new complaint scoring a little
    under a caught one is still caught.
    """
    labels = np.asarray(y)
    positive = labels != NORMAL
    normal = ~positive
    critical = labels == CRITICAL
    if not positive.any():
        return Thresholds(critical=1.0 + 1e-9, urgent=1.0 + 1e-9)
    raised_score = proba[:, 1] + proba[:, 2]
    t_urgent = _candidates(raised_score)
    t_critical = _candidates(proba[:, 2])
    # flagged_u[i, n]: sample n raised by urgent threshold i.
    flagged_u = raised_score[None, :] >= t_urgent[:, None]
    n_pos, n_normal, n_crit = positive.sum(), max(normal.sum(), 1), max(critical.sum(), 1)
    n_not_crit = max((~critical).sum(), 1)
    # 1. Critical: a critical grade alerts the on-call leaders at once, so its threshold
    #    is chosen for separating critical from everything else, on its own.
    best_tc, best_j = 1.0 + 1e-9, -1.0
    if critical.any():
        for tc in t_critical:
            graded = proba[:, 2] >= tc
            j = graded[critical].sum() / n_crit - graded[~critical].sum() / n_not_crit
            if j > best_j + 1e-12 or (abs(j - best_j) <= 1e-12 and tc > best_tc):
                best_tc, best_j = float(tc), j
    # 2. Urgent: the threshold reaching the recall target with the fewest normal
    #    complaints raised (a critical grade counts as raised), then the most recall.
    graded_critical = proba[:, 2] >= best_tc
    flagged = flagged_u | graded_critical[None, :]
    recall = flagged[:, positive].sum(axis=1) / n_pos
    false_alarm = flagged[:, normal].sum(axis=1) / n_normal
    reaching = np.flatnonzero(recall >= recall_target - 1e-12)
    if len(reaching) == 0:
        return Thresholds(critical=best_tc, urgent=0.0)
    i = min(reaching, key=lambda k: (false_alarm[k], -recall[k]))
    return Thresholds(critical=best_tc, urgent=float(t_urgent[i]))


# --- Cross-validation helpers -----------------------------------------------------------


def _splitter(y: Sequence[str], folds: int, seed: int) -> KFold | StratifiedKFold:
    """Stratified folds when every class can be spread over them, else plain folds."""
    counts = Counter(y)
    n = min(folds, min(counts.values()))
    if n >= 2:
        return StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
    return KFold(n_splits=min(folds, len(y)), shuffle=True, random_state=seed)


def stratified_split(
    samples: Sequence[LabelledText], *, test_size: float = 0.25, seed: int = 0
) -> tuple[list[LabelledText], list[LabelledText]]:
    """Train/test split stratified by category × priority × language.

    A stratum too small to be split (one example) is merged into its coarser stratum
    (category × priority, then category, then the rest), so rare combinations never make
    it fail.
    """
    strata = [f"{s.category}|{s.priority}|{s.language}" for s in samples]
    for coarser in (
        [f"{s.category}|{s.priority}" for s in samples],
        [s.category for s in samples],
        ["all"] * len(samples),
    ):
        counts = Counter(strata)
        strata = [k if counts[k] >= 2 else c for k, c in zip(strata, coarser, strict=True)]
    counts = Counter(strata)
    if min(counts.values()) < 2:
        # Still alone (a single "all" leftover): it joins the biggest stratum.
        biggest = counts.most_common(1)[0][0]
        strata = [k if counts[k] >= 2 else biggest for k in strata]
    train_idx, test_idx = train_test_split(
        np.arange(len(samples)), test_size=test_size, random_state=seed, stratify=strata
    )
    return [samples[i] for i in sorted(train_idx)], [samples[i] for i in sorted(test_idx)]


# --- The model --------------------------------------------------------------------------


@dataclass
class TrainedModel:
    chinese: TfidfVectorizer
    latin: TfidfVectorizer
    spelling: TfidfVectorizer
    category_head: _Head
    priority_head: _Head
    thresholds: Thresholds
    # Cross-validated quality on the training data, the sample counts, the versions.
    metrics: dict[str, Any]
    # The ClassifierModel version this was loaded from (set by routing.model_store).
    version: int | None = None
    _terms: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=object))
    _kinds: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=int))
    _fast: list[_FastTfidf] = field(repr=False, default_factory=list)
    _width: int = field(repr=False, default=0)

    def __post_init__(self) -> None:
        self._prepare()

    def _prepare(self) -> None:
        """Derive what prediction needs from the vectorisers (not stored: rebuilt on load)."""
        terms: list[str] = []
        kinds: list[int] = []
        self._fast = []
        for kind, vectoriser in enumerate(self.vectorisers):
            if _fitted(vectoriser):
                self._fast.append(_FastTfidf(vectoriser, len(terms)))
                names = vectoriser.get_feature_names_out().tolist()
                terms += names
                kinds += [kind] * len(names)
        self._terms = np.array(terms, dtype=object)
        self._kinds = np.array(kinds, dtype=int)
        self._width = len(terms)

    @property
    def vectorisers(self) -> tuple[TfidfVectorizer, ...]:
        """In column order; an unfitted one (no text in its script) has no columns."""
        return (self.chinese, self.latin, self.spelling)

    @property
    def categories(self) -> list[str]:
        return list(self.category_head.classes)

    def vectorise(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The feature rows of ``texts``: the vectorisers' transform, done lean."""
        indptr = [0]
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        filled = 0
        for text in texts:
            for part in self._fast:
                cols, vals = part.row(text)
                columns.append(cols)
                values.append(vals)
                filled += len(cols)
            indptr.append(filled)
        if not columns:
            return sp.csr_matrix((len(texts), self._width))
        return sp.csr_matrix(
            (np.concatenate(values), np.concatenate(columns), np.array(indptr)),
            shape=(len(texts), self._width),
        )

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def predict_many(self, texts: Iterable[str], *, explain: bool = True) -> list[Prediction]:
        texts = list(texts)
        if not texts:
            return []
        X = self.vectorise(texts)
        category_proba = self.category_head.predict_proba(X)
        priority_proba = self.priority_head.predict_proba(X)
        priorities = _decide_many(priority_proba, self.thresholds)
        categories = self.category_head.classes
        best = category_proba.argmax(axis=1)
        predictions = []
        for i in range(len(texts)):
            c = int(best[i])
            predictions.append(
                Prediction(
                    category=categories[c],
                    category_confidence=float(category_proba[i, c]),
                    category_scores=dict(zip(categories, category_proba[i].tolist(), strict=True)),
                    priority=str(priorities[i]),
                    priority_scores=dict(zip(PRIORITIES, priority_proba[i].tolist(), strict=True)),
                    explanation=self._explain(X, i, c, texts[i]) if explain else [],
                )
            )
        return predictions

    def _explain(
        self, X: sp.csr_matrix, row: int, klass: int, text: str, top: int = 6
    ) -> list[tuple[str, float]]:
        coef = self.category_head.centred_coef
        if coef is None:
            return []
        start, end = X.indptr[row], X.indptr[row + 1]
        columns = X.indices[start:end]
        contribution = X.data[start:end] * coef[klass, columns]
        # Spelling pieces ("leaki") are useful evidence but unreadable: shown are the
        # Chinese n-grams and the English words only.
        contribution[self._kinds[columns] == _SPELLING] = 0.0
        order = np.argsort(-contribution)[: top * 3]
        ranked = [
            (
                str(self._terms[columns[j]]),
                float(contribution[j]),
                bool(self._kinds[columns[j]] == _WORDS),
            )
            for j in order
            if contribution[j] > 0
        ]
        return _merge_terms(ranked, top, chinese_view(text))

    # --- Storage ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        buffer.write(_MAGIC)
        buffer.write(f"{FORMAT_VERSION}\n".encode())
        joblib.dump(self, buffer, compress=3)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> TrainedModel:
        data = bytes(data)  # BinaryField may hand out a memoryview
        if not data.startswith(_MAGIC):
            raise ModelFormatError("These bytes are not a Sutong classifier model.")
        header_end = data.index(b"\n", len(_MAGIC))
        version = data[len(_MAGIC) : header_end].decode("ascii", "replace")
        if version != str(FORMAT_VERSION):
            raise ModelFormatError(
                f"Classifier model format {version!r} is not supported (this code reads "
                f"format {FORMAT_VERSION}); train a new model with train_classifier."
            )
        # Unpickling runs code from the data. Acceptable here: these bytes only ever come
        # from our own database (ClassifierModel.blob, written by save_model after train),
        # never from users or uploads.
        model = joblib.load(io.BytesIO(data[header_end + 1 :]))
        if not isinstance(model, cls):
            raise ModelFormatError("The stored object is not a TrainedModel.")
        return model

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare()

    def __getstate__(self) -> dict[str, Any]:
        # The term arrays are derived from the vectorisers: rebuilt on load, not stored.
        state = dict(self.__dict__)
        for derived in ("_terms", "_kinds", "_fast", "_width"):
            state.pop(derived, None)
        return state


class _FastTfidf:
    """A fitted TfidfVectorizer's transform of one text, in plain Python and numpy.

    Same numbers as ``TfidfVectorizer.transform`` (sublinear tf × idf, L2-normalised per
    vectoriser), without the per-call input validation that dominates for one text.
    """

    def __init__(self, vectoriser: TfidfVectorizer, offset: int) -> None:
        # The lean transform below implements exactly this configuration.
        assert vectoriser.sublinear_tf
        assert vectoriser.norm == "l2"
        assert vectoriser.use_idf
        self.analyse = vectoriser.build_analyzer()
        self.vocabulary: dict[str, int] = vectoriser.vocabulary_
        self.idf = np.asarray(vectoriser.idf_, dtype=np.float64)
        self.offset = offset

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts: dict[int, int] = {}
        vocabulary = self.vocabulary
        for gram in self.analyse(text):
            column = vocabulary.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        values += 1.0
        values *= self.idf[columns]
        values /= np.sqrt(values @ values)
        return columns + self.offset, values


def _fitted(vectoriser: TfidfVectorizer) -> bool:
    return hasattr(vectoriser, "vocabulary_")


# Kinds of features, in column order.
_CHINESE, _WORDS, _SPELLING = 0, 1, 2


def _make_vectorisers() -> tuple[TfidfVectorizer, TfidfVectorizer, TfidfVectorizer]:
    """Chinese character n-grams, English words, English spelling (character n-grams).

    Settings chosen by 5-fold cross-validation on the training part of the demo corpus:
    a Chinese n-gram seen in one complaint only is noise (min_df=2 helped); English has
    fewer examples and typos ("offical"), so character 3–5-grams inside words give it
    the robustness Chinese gets from its character n-grams (+1–3 points for English).
    """
    chinese = TfidfVectorizer(
        preprocessor=chinese_view,
        analyzer="char_wb",
        ngram_range=(1, 3),
        min_df=2,
        sublinear_tf=True,
        dtype=np.float64,
    )
    words = TfidfVectorizer(
        preprocessor=latin_view,
        token_pattern=_WORD_PATTERN,
        ngram_range=(1, 2),
        sublinear_tf=True,
        dtype=np.float64,
    )
    spelling = TfidfVectorizer(
        preprocessor=latin_view,
        analyzer="char_wb",
        ngram_range=(3, 5),
        min_df=2,
        sublinear_tf=True,
        dtype=np.float64,
    )
    return chinese, words, spelling


def _fit_vectorisers(texts: Sequence[str]) -> tuple[TfidfVectorizer, ...]:
    vectorisers = _make_vectorisers()
    # A corpus with no Chinese (or no English) at all leaves that vectoriser unfitted;
    # it then contributes no columns.
    for vectoriser in vectorisers:
        try:
            vectoriser.fit(texts)
        except ValueError:  # "empty vocabulary"
            pass
        else:
            # Terms dropped by the vectoriser are kept only for introspection; they would
            # bloat every stored model.
            if hasattr(vectoriser, "stop_words_"):
                del vectoriser.stop_words_
    return vectorisers


def _vectorise(vectorisers: Sequence[TfidfVectorizer], texts: Sequence[str]) -> sp.csr_matrix:
    """scikit-learn's own transform, for training (TrainedModel.vectorise is the lean one)."""
    parts = [v.transform(texts) for v in vectorisers if _fitted(v)]
    if not parts:
        return sp.csr_matrix((len(texts), 0))
    return sp.hstack(parts, format="csr")


def _merge_terms(
    ranked: list[tuple[str, float, bool]], top: int, text: str = ""
) -> list[tuple[str, float]]:
    """Fold n-grams that repeat each other into one readable phrase.

    "救护", "护车" and "救护车" become "救护车" with their contributions summed; "gas" goes
    into "gas leak". Character n-grams that overlap at the edges ("漂白粉" + "白粉味") are
    joined only if the joined phrase occurs in ``text`` (the Chinese view of the complaint)
    and is short, so we never invent phrases. Whitespace-only n-grams (the padding at
    word boundaries) and English phrases of stop words only ("of the") are dropped.
    """
    kept: list[list[Any]] = []  # [term, weight, is_word]
    for term, weight, is_word in ranked:
        term = term.strip()
        if not term or not (is_word or term.strip("!?")):
            continue
        if is_word and all(word in ENGLISH_STOP_WORDS for word in term.split()):
            continue  # "of the" is real evidence of style, but tells a dispatcher nothing
        entry: list[Any] = [term, weight, is_word]
        # Pull every kept phrase this one joins into it, again after each join: a joined
        # phrase can now contain a piece kept separately before ("粉味", then "漂白粉" +
        # "白粉味" → "漂白粉味").
        joined = True
        while joined:
            joined = False
            for k, other in enumerate(kept):
                if other[2] == is_word:
                    merged = _combine(other[0], entry[0], is_word, text)
                    if merged is not None:
                        entry = [merged, other[1] + entry[1], is_word]
                        del kept[k]
                        joined = True
                        break
        kept.append(entry)
    kept.sort(key=lambda e: -e[1])
    return [(str(e[0]), round(float(e[1]), 4)) for e in kept[:top]]


def _combine(a: str, b: str, is_word: bool, text: str) -> str | None:
    """``a`` and ``b`` as one phrase if one contains the other or they overlap; else None."""
    if is_word:
        wa, wb = a.split(), b.split()
        if _contains(wa, wb):
            return a
        if _contains(wb, wa):
            return b
        return None
    if b in a:
        return a
    if a in b:
        return b
    for joined in (_overlap(a, b), _overlap(b, a)):
        if joined is not None and len(joined) <= 8 and joined in text:
            return joined
    return None


def _contains(outer: list[str], inner: list[str]) -> bool:
    n = len(inner)
    return any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


def _overlap(a: str, b: str) -> str | None:
    """``a`` followed by ``b`` when ``a`` ends with ``b``'s start (at least 2 characters)."""
    for k in range(min(len(a), len(b)) - 1, 1, -1):
        if a.endswith(b[:k]):
            return a + b[k:]
    return None


# --- Training ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingOptions:
    """Hyper-parameters, chosen by cross-validation on the demo corpus' training part."""

    category_C: float = 1.0
    priority_C: float = 1.0
    calibration_folds: int = 5
    # Folds for the out-of-fold probabilities that set the priority thresholds and give
    # the cross-validated metrics.
    evaluation_folds: int = 5
    recall_target: float = RECALL_TARGET
    # Thresholds are tuned for the target plus this margin. Tuned exactly to 95 % on the
    # out-of-fold scores, they reached only 93.5–94 % on data the tuning never saw (nested
    # cross-validation on the corpus' training part); with 2 points more, 95–96.5 %.
    recall_margin: float = 0.02
    seed: int = 0


def _fit_heads(
    texts: Sequence[str],
    categories: Sequence[str],
    priorities: Sequence[str],
    category_classes: list[str],
    options: TrainingOptions,
) -> tuple[tuple[TfidfVectorizer, ...], _Head, _Head]:
    vectorisers = _fit_vectorisers(texts)
    X = _vectorise(vectorisers, texts)
    folds = options.calibration_folds
    category = _Head(category_classes).fit(
        X, categories, C=options.category_C, balanced=True, folds=folds
    )
    priority = _Head(list(PRIORITIES)).fit(
        X, priorities, C=options.priority_C, balanced=True, folds=folds
    )
    return vectorisers, category, priority


def train(samples: Sequence[LabelledText], options: TrainingOptions | None = None) -> TrainedModel:
    """Train both heads on ``samples``; choose the priority thresholds by cross-validation.

    Raises ValueError for an empty set, fewer than two categories, or unknown priorities.
    """
    options = options or TrainingOptions()
    if not samples:
        raise ValueError("No training samples.")
    texts = [s.text for s in samples]
    categories = [s.category for s in samples]
    priorities = [s.priority for s in samples]
    unknown = set(priorities) - set(PRIORITIES)
    if unknown:
        raise ValueError(f"Unknown priorities: {', '.join(sorted(unknown))}")
    category_classes = sorted(set(categories))
    if len(category_classes) < 2:
        raise ValueError("At least two categories are needed to train a classifier.")
    started = time.perf_counter()

    # Out-of-fold predictions: every sample predicted by a model that never saw it.
    n = len(samples)
    oof_category = np.zeros((n, len(category_classes)))
    oof_priority = np.zeros((n, len(PRIORITIES)))
    strata = [f"{c}|{p}" for c, p in zip(categories, priorities, strict=True)]
    splitter = _splitter(strata, options.evaluation_folds, options.seed)
    for fit_idx, held_idx in splitter.split(np.zeros(n), strata):
        vectorisers, category, priority = _fit_heads(
            [texts[i] for i in fit_idx],
            [categories[i] for i in fit_idx],
            [priorities[i] for i in fit_idx],
            category_classes,
            options,
        )
        X_held = _vectorise(vectorisers, [texts[i] for i in held_idx])
        oof_category[held_idx] = category.predict_proba(X_held)
        oof_priority[held_idx] = priority.predict_proba(X_held)
    thresholds = choose_thresholds(
        oof_priority,
        priorities,
        recall_target=min(1.0, options.recall_target + options.recall_margin),
    )

    vectorisers, category, priority = _fit_heads(
        texts, categories, priorities, category_classes, options
    )
    chinese, latin, spelling = vectorisers
    metrics = {
        "samples": n,
        "categories": dict(sorted(Counter(categories).items())),
        "priorities": {p: priorities.count(p) for p in PRIORITIES},
        "cross_validated": priority_report(oof_priority, priorities, thresholds)
        | {
            "category_accuracy": float(
                np.mean(np.array(category_classes)[oof_category.argmax(axis=1)] == categories)
            ),
            "folds": splitter.get_n_splits(),
        },
        "thresholds": {"critical": thresholds.critical, "urgent": thresholds.urgent},
        "recall_target": options.recall_target,
        "recall_margin": options.recall_margin,
        "calibration": {"category": category.calibration, "priority": priority.calibration},
        "features": sum(len(v.vocabulary_) for v in vectorisers if _fitted(v)),
        "options": {
            "category_C": options.category_C,
            "priority_C": options.priority_C,
            "calibration_folds": options.calibration_folds,
        },
        "sklearn": sklearn.__version__,
        "format": FORMAT_VERSION,
        "training_seconds": round(time.perf_counter() - started, 2),
    }
    return TrainedModel(
        chinese=chinese,
        latin=latin,
        spelling=spelling,
        category_head=category,
        priority_head=priority,
        thresholds=thresholds,
        metrics=metrics,
    )


def priority_report(proba: np.ndarray, y: Sequence[str], thresholds: Thresholds) -> dict[str, Any]:
    """Recall of urgent+critical and the share of normal complaints raised, at thresholds."""
    return priority_outcome(_decide_many(proba, thresholds).tolist(), y)


def priority_outcome(predicted: Sequence[str], y: Sequence[str]) -> dict[str, Any]:
    """How a priority grading did: an urgent graded critical (or back) counts as caught."""
    truth, guess = np.asarray(y), np.asarray(predicted)
    positive, normal, critical = truth != NORMAL, truth == NORMAL, truth == CRITICAL
    return {
        "urgent_critical_recall": _share(guess[positive] != NORMAL),
        "normal_raised": _share(guess[normal] != NORMAL),
        "critical_recall": _share(guess[critical] == CRITICAL),
        "priority_accuracy": _share(guess == truth),
    }


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if hits.size else None


# --- Corpus -----------------------------------------------------------------------------


def load_corpus(path: Path | str = DEFAULT_CORPUS) -> list[LabelledText]:
    """The labelled JSON-lines corpus (id, language, category, priority, title, content)."""
    samples = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                sample = LabelledText(
                    text=join_text(record["title"], record["content"]),
                    category=str(record["category"]),
                    priority=str(record["priority"]),
                    language=str(record.get("language", "")),
                )
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}, line {number}: not a corpus record ({exc})") from exc
            if sample.priority not in PRIORITIES:
                raise ValueError(f"{path}, line {number}: unknown priority {sample.priority!r}")
            samples.append(sample)
    return samples
