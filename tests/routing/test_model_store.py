"""Storing, activating and loading classifier versions; training data; the commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from complaints.models import Complaint, Event
from routing import classifier, model_store
from routing.classifier import TrainedModel
from routing.models import Category, ClassifierModel
from routing.tasks import retrain_classifier
from tests.factories import ComplaintFactory, complaint_in
from tests.routing.test_classifier import FAST, make_samples, write_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    return classifier.train(make_samples(80), FAST)


@pytest.fixture(autouse=True)
def _fresh_cache(settings: Any) -> Any:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    model_store.clear_cache()
    yield
    model_store.clear_cache()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus.jsonl", make_samples(120))


def active_versions() -> list[int]:
    return list(ClassifierModel.objects.filter(is_active=True).values_list("version", flat=True))


# --- Saving and activating --------------------------------------------------------------


def test_versions_count_up_and_only_the_newest_is_active(trained: TrainedModel) -> None:
    first = model_store.save_model(trained, samples=80, metrics={"a": 1})
    second = model_store.save_model(trained, samples=80, metrics={"a": 2})
    assert (first.version, second.version) == (1, 2)
    assert active_versions() == [2]
    assert ClassifierModel.objects.get(version=2).metrics == {"a": 2}
    kept = model_store.save_model(trained, samples=80, metrics={}, activate=False)
    assert kept.version == 3
    assert active_versions() == [2]


def test_no_model_yet() -> None:
    assert model_store.active_model() is None


def test_loaded_model_predicts_like_the_saved_one(trained: TrainedModel) -> None:
    model_store.save_model(trained, samples=80, metrics={})
    loaded = model_store.active_model()
    assert loaded is not None
    assert loaded.version == 1
    text = "路灯不亮\n晚上很黑"
    assert loaded.predict(text) == trained.predict(text)


def test_other_processes_pick_up_a_new_version(trained: TrainedModel, settings: Any) -> None:
    settings.CLASSIFIER_RECHECK_SECONDS = 3600
    model_store.save_model(trained, samples=80, metrics={})
    first = model_store.active_model()
    assert first is not None
    assert first.version == 1
    assert model_store.active_model() is first  # cached: no reload per prediction

    model_store.save_model(trained, samples=80, metrics={})  # trained "elsewhere"
    assert model_store.active_model() is first  # not re-checked within the interval
    settings.CLASSIFIER_RECHECK_SECONDS = 0
    second = model_store.active_model()
    assert second is not None
    assert second.version == 2
    # A process that starts now (empty cache) loads the active version straight away.
    model_store.clear_cache()
    fresh = model_store.active_model()
    assert fresh is not None
    assert fresh.version == 2


def test_deactivating_every_version_turns_the_model_off(
    trained: TrainedModel, settings: Any
) -> None:
    settings.CLASSIFIER_RECHECK_SECONDS = 0
    model_store.save_model(trained, samples=80, metrics={})
    assert model_store.active_model() is not None
    ClassifierModel.objects.update(is_active=False)
    assert model_store.active_model() is None


def test_an_unloadable_version_is_skipped(
    trained: TrainedModel, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CLASSIFIER_RECHECK_SECONDS = 0
    model_store.save_model(trained, samples=80, metrics={})
    assert model_store.active_model() is not None
    ClassifierModel.objects.update(is_active=False)
    ClassifierModel.objects.create(
        version=2, samples=1, blob=b"SUTONG-CLASSIFIER\n99\n", is_active=True
    )
    kept = model_store.active_model()
    assert kept is not None
    assert kept.version == 1  # routing goes on with the model it had
    assert "Cannot load classifier v2" in caplog.text


# --- Training data ----------------------------------------------------------------------


def classified(
    category: Category | None, actor: User | None, *, title: str, priority: str = "normal"
) -> Complaint:
    complaint = complaint_in(
        "classified", category=category, priority=priority, title=title, content="内容"
    )
    Event.objects.create(complaint=complaint, kind="complaint.classified", actor=actor)
    return complaint


def test_training_samples_are_what_people_classified(
    facilities: Category, dispatcher: User, small_corpus: Path
) -> None:
    classified(facilities, dispatcher, title="路灯不亮", priority="urgent")
    classified(facilities, None, title="系统自动分类")  # the model's own guess
    unclassified = complaint_in("received", title="未分类")
    Event.objects.create(complaint=unclassified, kind="complaint.classified", actor=dispatcher)
    ComplaintFactory(title="没有事件", category=facilities)  # e.g. imported, never confirmed
    twice = classified(facilities, dispatcher, title="分类两次")
    Event.objects.create(complaint=twice, kind="complaint.classified", actor=dispatcher)

    samples = model_store.training_samples()
    assert samples == [
        classifier.LabelledText("路灯不亮\n内容", "facilities", "urgent"),
        classifier.LabelledText("分类两次\n内容", "facilities", "normal"),
    ]
    with_corpus = model_store.training_samples(include_corpus=True, corpus_path=small_corpus)
    assert len(with_corpus) == 2 + 120


# --- The train_classifier command and the task ------------------------------------------


def test_train_classifier_command(small_corpus: Path) -> None:
    out = StringIO()
    call_command("train_classifier", "--corpus", str(small_corpus), stdout=out)
    text = out.getvalue()
    assert "Trained classifier v1 on 120 samples (active)" in text
    assert "category accuracy" in text
    assert active_versions() == [1]
    row = ClassifierModel.objects.get(version=1)
    assert row.samples == 120
    assert row.metrics["include_corpus"] is True
    assert 0.0 <= row.metrics["cross_validated"]["category_accuracy"] <= 1.0
    assert TrainedModel.from_bytes(row.blob).predict("路灯不亮").category == "facilities"

    call_command("train_classifier", "--corpus", str(small_corpus), "--no-activate", stdout=out)
    assert active_versions() == [1]


def test_train_classifier_refuses_too_little_data(tmp_path: Path) -> None:
    tiny = write_corpus(tmp_path / "tiny.jsonl", make_samples(20))
    with pytest.raises(CommandError, match="Not enough training data: 20 samples"):
        call_command("train_classifier", "--corpus", str(tiny))
    one_category = write_corpus(
        tmp_path / "one.jsonl", [s for s in make_samples(200) if s.category == "facilities"]
    )
    with pytest.raises(CommandError, match="in 1 categories"):
        call_command("train_classifier", "--corpus", str(one_category))
    with pytest.raises(CommandError, match="0 samples"):
        call_command("train_classifier", "--no-corpus")
    assert not ClassifierModel.objects.exists()


def test_train_classifier_reports_a_broken_corpus(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 1"):
        call_command("train_classifier", "--corpus", str(broken))


def test_retrain_task(small_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "DEFAULT_CORPUS", small_corpus)
    result = retrain_classifier()
    assert result is not None
    assert result["version"] == 1
    assert result["samples"] == 120
    assert active_versions() == [1]
    assert retrain_classifier(include_corpus=False) is None  # no confirmed complaints


# --- evaluate_classifier ----------------------------------------------------------------


def test_evaluate_classifier_reports_json(small_corpus: Path) -> None:
    out = StringIO()
    call_command(
        "evaluate_classifier", "--corpus", str(small_corpus), "--json", "--seed", "3", stdout=out
    )
    report = json.loads(out.getvalue())
    assert report["samples"] == {
        "total": 120,
        "train": 90,
        "test": 30,
        "test_by_language": report["samples"]["test_by_language"],
        "test_by_priority": report["samples"]["test_by_priority"],
    }
    assert set(report["samples"]["test_by_language"]) == {"zh", "en"}
    assert 0.0 <= report["category"]["accuracy"] <= 1.0
    assert sum(map(sum, report["category"]["confusion"])) == 30
    assert set(report["targets"]) == {
        "category_accuracy",
        "urgent_critical_recall",
        "single_prediction_ms",
        "batch_per_second",
    }
    assert report["speed"]["batch_per_second"] > 0
    text = StringIO()
    call_command("evaluate_classifier", "--corpus", str(small_corpus), stdout=text)
    assert "Category accuracy" in text.getvalue()
    assert "Targets:" in text.getvalue()
    assert not ClassifierModel.objects.exists()  # evaluation stores nothing


def test_evaluate_classifier_errors(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read the corpus"):
        call_command("evaluate_classifier", "--corpus", str(tmp_path / "missing.jsonl"))
    with pytest.raises(CommandError, match="--test-size"):
        call_command("evaluate_classifier", "--test-size", "1.5")
