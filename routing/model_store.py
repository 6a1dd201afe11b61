"""Where trained classifiers live: ``ClassifierModel`` rows, one of them active.

Training happens in one process (the ``train_classifier`` command or the
``retrain_classifier`` task); predictions happen in every web and worker process. Each
of those keeps the active model in memory and asks the database at most every
``CLASSIFIER_RECHECK_SECONDS`` (default 30) which version is active — a cheap query of
one integer — so a newly trained model reaches every process within that time, without
a restart and without a message bus.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef

from complaints.models import Complaint, Event
from routing import classifier
from routing.classifier import LabelledText, TrainedModel
from routing.models import ClassifierModel

logger = logging.getLogger(__name__)

# The fewest examples, and categories, a model may be trained on: below that the
# cross-validated numbers mean nothing and the model would mislead the dispatchers.
MIN_SAMPLES = 30
MIN_CATEGORIES = 2


class NotEnoughData(Exception):
    """Too few confirmed examples to train a useful model."""


# --- Saving -----------------------------------------------------------------------------


def save_model(
    model: TrainedModel, *, samples: int, metrics: dict[str, Any], activate: bool = True
) -> ClassifierModel:
    """Store ``model`` as the next version; when ``activate``, it becomes the only active one."""
    blob = model.to_bytes()
    for attempt in range(5):
        try:
            with transaction.atomic():
                # Deactivate first, then insert: all in one transaction, so readers see
                # the old version or the new one, never none (and a unique constraint on
                # the active row, if one is added, holds at every step).
                if activate:
                    ClassifierModel.objects.filter(is_active=True).update(is_active=False)
                latest = ClassifierModel.objects.aggregate(latest=Max("version"))["latest"]
                row = ClassifierModel.objects.create(
                    version=(latest or 0) + 1,
                    samples=samples,
                    metrics=metrics,
                    blob=blob,
                    is_active=activate,
                )
            break
        except IntegrityError:
            # Another training saved the same version number first (or activated its
            # model at the same moment): try again on top of it.
            if attempt == 4:
                raise
    model.version = row.version
    logger.info("Saved classifier v%s (%s samples, active=%s)", row.version, samples, activate)
    return row


# --- Loading, once per process ----------------------------------------------------------


@dataclass
class _Cache:
    version: int | None = None
    model: TrainedModel | None = None
    checked_at: float = -1e18  # monotonic seconds; far past: check on first use


_cache = _Cache()
_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the loaded model; the next ``active_model()`` asks the database again."""
    global _cache
    with _lock:
        _cache = _Cache()


def active_model() -> TrainedModel | None:
    """The active trained model, or None when none is trained yet.

    Cached in the process; which version is active is re-checked at most every
    ``CLASSIFIER_RECHECK_SECONDS``. A model that cannot be loaded (stored by an
    incompatible version of this code) is logged and skipped: routing goes on with the
    previous model, or with keyword rules alone.
    """
    recheck: float = getattr(settings, "CLASSIFIER_RECHECK_SECONDS", 30)
    now = time.monotonic()
    cache = _cache
    if now - cache.checked_at < recheck:
        return cache.model
    with _lock:
        if now - _cache.checked_at < recheck:  # another thread just refreshed it
            return _cache.model
        _refresh(now)
        return _cache.model


def _refresh(now: float) -> None:
    global _cache
    # The highest active version: there is one, unless two trainings raced (then the
    # newer wins).
    version = (
        ClassifierModel.objects.filter(is_active=True)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    if version == _cache.version:
        _cache.checked_at = now
        return
    if version is None:
        _cache = _Cache(checked_at=now)
        return
    blob = ClassifierModel.objects.filter(version=version).values_list("blob", flat=True).first()
    try:
        if blob is None:  # deleted between the two queries
            raise classifier.ModelFormatError(f"classifier v{version} disappeared")
        model = TrainedModel.from_bytes(blob)
    except Exception:
        logger.exception("Cannot load classifier v%s; keeping v%s", version, _cache.version)
        # Remember the version so we do not unpickle a broken blob every few seconds.
        _cache = _Cache(version=version, model=_cache.model, checked_at=now)
        return
    model.version = version
    _cache = _Cache(version=version, model=model, checked_at=now)
    logger.info("Loaded classifier v%s", version)


# --- Training data ----------------------------------------------------------------------


def training_samples(
    *, include_corpus: bool = False, corpus_path: Path | str | None = None
) -> list[LabelledText]:
    """Complaints a person classified, plus the demo corpus when ``include_corpus``.

    Only complaints whose classification a staff member made (a ``complaint.classified``
    event with an actor) are ground truth: those classified automatically from the
    model's own suggestion would teach the model its own mistakes. The complaint's
    current category and priority are used, so later corrections count.
    """
    confirmed = Event.objects.filter(
        complaint=OuterRef("pk"), kind="complaint.classified", actor__isnull=False
    )
    rows = (
        Complaint.objects.filter(category__isnull=False)
        .filter(Exists(confirmed))
        .order_by("pk")
        .values_list("title", "content", "category__code", "priority")
    )
    samples = [
        LabelledText(classifier.join_text(title, content), code, priority)
        for title, content, code, priority in rows.iterator(chunk_size=2000)
    ]
    if include_corpus:
        samples.extend(classifier.load_corpus(corpus_path or classifier.DEFAULT_CORPUS))
    return samples


# --- Retraining (the command and the task) ----------------------------------------------


@dataclass(frozen=True)
class TrainingResult:
    version: int
    samples: int
    active: bool
    metrics: dict[str, Any]

    @property
    def category_accuracy(self) -> float:
        return float(self.metrics["cross_validated"]["category_accuracy"])


def check_enough(samples: Sequence[LabelledText]) -> None:
    categories = {s.category for s in samples}
    if len(samples) < MIN_SAMPLES or len(categories) < MIN_CATEGORIES:
        raise NotEnoughData(
            f"Not enough training data: {len(samples)} samples in {len(categories)} "
            f"categories (at least {MIN_SAMPLES} samples in {MIN_CATEGORIES} categories are "
            "needed). Classify more complaints, or include the demo corpus."
        )


def retrain(
    *,
    include_corpus: bool = True,
    corpus_path: Path | str | None = None,
    activate: bool = True,
    options: classifier.TrainingOptions | None = None,
) -> TrainingResult:
    """Train on the confirmed complaints (and the corpus), save, and activate.

    Raises NotEnoughData when there is too little to learn from.
    """
    samples = training_samples(include_corpus=include_corpus, corpus_path=corpus_path)
    check_enough(samples)
    model = classifier.train(samples, options)
    metrics = {**model.metrics, "include_corpus": include_corpus}
    row = save_model(model, samples=len(samples), metrics=metrics, activate=activate)
    return TrainingResult(
        version=row.version, samples=len(samples), active=row.is_active, metrics=metrics
    )
