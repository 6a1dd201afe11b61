"""The classifier on its own: small generated bilingual data, no database, no demo corpus."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest

from routing import classifier
from routing.classifier import (
    CRITICAL,
    NORMAL,
    PRIORITIES,
    URGENT,
    LabelledText,
    ModelFormatError,
    Thresholds,
    TrainedModel,
    TrainingOptions,
)

# Per category: distinctive Chinese and English phrases.
TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "facilities": (
        ["路灯不亮", "井盖丢失", "电梯故障", "水管破裂"],
        ["street light is broken", "manhole cover missing", "the lift is out of order"],
    ),
    "staff_conduct": (
        ["工作人员态度恶劣", "窗口人员辱骂群众", "办事员索要好处费"],
        ["the clerk was rude", "an officer shouted at me", "staff asked for a bribe"],
    ),
    "efficiency": (
        ["办理进度太慢", "审批拖了三个月", "材料反复退回"],
        ["the application is delayed", "approval has taken months", "nobody processes my file"],
    ),
    "policy_inquiry": (
        ["想咨询补贴政策", "请问社保怎么办理", "落户条件是什么"],
        ["what is the policy on subsidies", "how do I apply for a pension", "eligibility rules"],
    ),
}
URGENCY: dict[str, tuple[list[str], list[str]]] = {
    NORMAL: (["希望有空处理", "麻烦看一下", ""], ["please look at it", "when convenient", ""]),
    URGENT: (["请尽快处理", "老人出行困难"], ["please act quickly", "elderly residents at risk"]),
    CRITICAL: (["有人受伤马上派人", "随时可能爆炸"], ["someone is injured send help now", "fire"]),
}
FILLER_ZH = ["我住在幸福小区", "电话13812345678", "二〇二五年三月", "谢谢", "已经反映过"]
FILLER_EN = ["I live on Oak Street", "call 555-0199", "on 3 March 2025", "thanks", "again"]


def make_samples(n: int = 160, seed: int = 7) -> list[LabelledText]:
    """``n`` labelled texts, half Chinese, half English, priorities 60/25/15 %."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        category = list(TOPICS)[i % len(TOPICS)]
        roll = (i * 37 % 100) / 100
        priority = NORMAL if roll < 0.6 else URGENT if roll < 0.85 else CRITICAL
        zh = (i // len(TOPICS)) % 2 == 0
        topic = TOPICS[category][0 if zh else 1]
        urgency = URGENCY[priority][0 if zh else 1]
        filler = FILLER_ZH if zh else FILLER_EN
        parts = [rng.choice(topic), rng.choice(filler), rng.choice(urgency), rng.choice(filler)]
        sep = "，" if zh else ", "
        samples.append(
            LabelledText(
                text=f"{parts[0]}\n{sep.join(p for p in parts if p)}",
                category=category,
                priority=priority,
                language="zh" if zh else "en",
            )
        )
    return samples


FAST = TrainingOptions(calibration_folds=3, evaluation_folds=3)


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    return classifier.train(make_samples(), FAST)


# --- Text features ----------------------------------------------------------------------


def test_numbers_are_normalised_and_scripts_separated() -> None:
    text = "电话１３８１２３４５６７８ Call 555-0199 now！"
    assert classifier.normalise(text) == "电话0 call 0-0 now!"
    assert classifier.chinese_view(text) == "电话 !"
    assert classifier.latin_view(text) == "call now"


def test_phone_numbers_and_dates_are_not_features(model: TrainedModel) -> None:
    terms = set(model.chinese.get_feature_names_out()) | set(model.latin.get_feature_names_out())
    assert not any(ch.isdigit() and ch != "0" for term in terms for ch in term)
    assert "路灯" in terms
    assert "street light" in terms


# --- Predictions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("小区路灯不亮\n晚上很黑，麻烦看一下", "facilities"),
        ("Rude clerk\nThe clerk was rude to my mother at the counter", "staff_conduct"),
        ("审批太慢\n我的审批拖了三个月还没有结果", "efficiency"),
        ("Pension question\nHow do I apply for a pension?", "policy_inquiry"),
    ],
)
def test_predicts_category_in_both_languages(model: TrainedModel, text: str, category: str) -> None:
    prediction = model.predict(text)
    assert prediction.category == category
    assert set(prediction.category_scores) == set(TOPICS)
    assert prediction.category_scores[category] == prediction.category_confidence
    assert sum(prediction.category_scores.values()) == pytest.approx(1.0)
    assert list(prediction.priority_scores) == list(PRIORITIES)
    assert sum(prediction.priority_scores.values()) == pytest.approx(1.0)


def test_priority_follows_urgency_words(model: TrainedModel) -> None:
    assert model.predict("电梯故障\n有人受伤马上派人").priority in {URGENT, CRITICAL}
    assert model.predict("Lift\nThe lift is out of order, someone is injured send help now")
    assert model.predict("想咨询补贴政策\n麻烦看一下，谢谢").priority == NORMAL


def test_explanation_names_readable_phrases(model: TrainedModel) -> None:
    prediction = model.predict("井盖丢失\n我住在幸福小区，井盖丢失了")
    assert prediction.category == "facilities"
    terms = [term for term, _ in prediction.explanation]
    assert terms, "a confident prediction is explained"
    assert all(term.strip() == term and term for term in terms)
    # Overlapping character n-grams are merged into the phrase they come from.
    assert any(len(term) >= 3 and term in "井盖丢失" for term in terms)
    weights = [weight for _, weight in prediction.explanation]
    assert weights == sorted(weights, reverse=True)
    assert all(weight > 0 for weight in weights)


def test_explanation_of_english_uses_words(model: TrainedModel) -> None:
    prediction = model.predict("Light\nThe street light is broken again")
    terms = [term for term, _ in prediction.explanation]
    assert any("light" in term.split() for term in terms)


def test_predict_many_matches_predict(model: TrainedModel) -> None:
    texts = ["路灯不亮", "The clerk was rude", "", "12345"]
    batch = model.predict_many(texts)
    assert [p.category for p in batch] == [model.predict(t).category for t in texts]
    assert batch[0].category_scores == pytest.approx(model.predict(texts[0]).category_scores)
    assert model.predict_many([]) == []
    assert model.predict_many(texts, explain=False)[0].explanation == []


def test_training_reports_cross_validated_metrics(model: TrainedModel) -> None:
    metrics = model.metrics
    assert metrics["samples"] == 160
    cv = metrics["cross_validated"]
    assert 0.8 <= cv["category_accuracy"] <= 1.0
    assert cv["urgent_critical_recall"] >= classifier.RECALL_TARGET
    assert metrics["thresholds"] == {
        "critical": model.thresholds.critical,
        "urgent": model.thresholds.urgent,
    }
    json.dumps(metrics)  # stored in a JSONField


def test_refuses_bad_training_data() -> None:
    with pytest.raises(ValueError, match="two categories"):
        classifier.train([LabelledText("a", "x", NORMAL)] * 5)
    with pytest.raises(ValueError, match="Unknown priorities"):
        classifier.train([LabelledText("a", "x", "high"), LabelledText("b", "y", NORMAL)])
    with pytest.raises(ValueError, match="No training samples"):
        classifier.train([])


def test_trains_with_rare_classes_and_one_language() -> None:
    # One critical example and one example of a category: too few for any fold.
    samples = [s for s in make_samples(60) if s.language == "en" and s.priority != CRITICAL]
    samples += [
        LabelledText("Gas\nthere is a gas explosion", "facilities", CRITICAL, "en"),
        LabelledText("Other\nsomething else entirely", "other", NORMAL, "en"),
    ]
    model = classifier.train(samples, FAST)
    assert model.metrics["calibration"] == {"category": "none", "priority": "none"}
    prediction = model.predict("The lift is out of order")
    assert prediction.category == "facilities"
    assert set(prediction.category_scores) == {*TOPICS, "other"}
    assert model.chinese.get_params()["analyzer"] == "char_wb"  # fitted on no Chinese
    assert not hasattr(model.chinese, "vocabulary_")


def test_one_priority_only_is_constant() -> None:
    samples = [s._replace(priority=NORMAL) for s in make_samples(40)]
    model = classifier.train(samples, FAST)
    assert model.predict("有人受伤马上派人").priority == NORMAL
    assert model.predict("x").priority_scores == {NORMAL: 1.0, URGENT: 0.0, CRITICAL: 0.0}


# --- The priority decision --------------------------------------------------------------


def test_decide_priority() -> None:
    t = Thresholds(critical=0.5, urgent=0.3)
    assert classifier.decide_priority(0.0, 0.5, t) == CRITICAL
    assert classifier.decide_priority(0.2, 0.1, t) == URGENT  # raised on the sum
    assert classifier.decide_priority(0.1, 0.1, t) == NORMAL
    # A critical threshold under the urgent one raises on P(critical) alone.
    assert classifier.decide_priority(0.0, 0.25, Thresholds(critical=0.2, urgent=0.9)) == CRITICAL


def test_thresholds_reach_recall_with_fewest_false_alarms() -> None:
    # Columns: normal, urgent, critical. Urgent scores overlap the normal ones at the low end.
    rows = [
        ([0.9, 0.1, 0.0], NORMAL),
        ([0.8, 0.2, 0.0], NORMAL),
        ([0.7, 0.3, 0.0], NORMAL),
        ([0.6, 0.35, 0.05], NORMAL),
        ([0.65, 0.3, 0.05], URGENT),  # hardest urgent: under one normal
        ([0.4, 0.5, 0.1], URGENT),
        ([0.3, 0.6, 0.1], URGENT),
        ([0.2, 0.3, 0.5], CRITICAL),
        ([0.1, 0.2, 0.7], CRITICAL),
    ]
    proba = np.array([r[0] for r in rows])
    y = [r[1] for r in rows]
    strict = classifier.choose_thresholds(proba, y, recall_target=1.0)
    decided = [classifier.decide_priority(p[1], p[2], strict) for p in proba]
    assert all(d != NORMAL for d, truth in zip(decided, y, strict=True) if truth != NORMAL)
    assert decided[:4] == [NORMAL] * 3 + [URGENT]  # catching the hardest urgent costs one
    assert decided[7:] == [CRITICAL, CRITICAL]
    assert decided[4:7] == [URGENT, URGENT, URGENT]
    # Letting one of five go raises no normal complaint at all.
    lenient = classifier.choose_thresholds(proba, y, recall_target=0.8)
    decided = [classifier.decide_priority(p[1], p[2], lenient) for p in proba]
    assert decided[:5] == [NORMAL] * 5
    # Thresholds sit half-way between scores, not on one.
    assert lenient.urgent not in set((proba[:, 1] + proba[:, 2]).round(9))


def test_the_critical_threshold_separates_critical_and_is_not_spent_on_urgent_ones() -> None:
    rows = [
        ([0.75, 0.25, 0.0], NORMAL),
        ([0.6, 0.35, 0.05], NORMAL),
        ([0.7, 0.1, 0.2], URGENT),  # caught cheapest by grading it critical: wrong
        ([0.2, 0.1, 0.7], CRITICAL),
        ([0.1, 0.1, 0.8], CRITICAL),
    ]
    proba = np.array([r[0] for r in rows])
    t = classifier.choose_thresholds(proba, [r[1] for r in rows], recall_target=1.0)

    decided = [classifier.decide_priority(p[1], p[2], t) for p in proba]

    # A false critical grade alerts the on-call leaders: a normal complaint raised to
    # urgent costs less.
    assert decided == [NORMAL, URGENT, URGENT, CRITICAL, CRITICAL]


def test_thresholds_without_urgent_examples_never_raise() -> None:
    proba = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0]])
    t = classifier.choose_thresholds(proba, [NORMAL, NORMAL])
    assert classifier.decide_priority(0.0, 1.0, t) == NORMAL


# --- Serialisation ----------------------------------------------------------------------


def test_round_trip(model: TrainedModel) -> None:
    data = model.to_bytes()
    assert data.startswith(b"SUTONG-CLASSIFIER\n1\n")
    loaded = TrainedModel.from_bytes(memoryview(data))
    text = "Lift\nThe lift is out of order, please act quickly"
    assert loaded.predict(text) == model.predict(text)
    assert loaded.thresholds == model.thresholds
    assert loaded.metrics == model.metrics


def test_refuses_unknown_formats(model: TrainedModel) -> None:
    with pytest.raises(ModelFormatError, match="not a Sutong classifier"):
        TrainedModel.from_bytes(pickle.dumps(model))
    newer = model.to_bytes().replace(b"SUTONG-CLASSIFIER\n1\n", b"SUTONG-CLASSIFIER\n99\n", 1)
    with pytest.raises(ModelFormatError, match="format '99' is not supported"):
        TrainedModel.from_bytes(newer)


# --- Corpus and split -------------------------------------------------------------------


def write_corpus(path: Path, samples: list[LabelledText]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i, s in enumerate(samples):
            title, content = s.text.split("\n", 1)
            record = {
                "id": f"{s.language}-{i:04d}",
                "language": s.language,
                "category": s.category,
                "priority": s.priority,
                "title": title,
                "content": content,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def test_load_corpus(tmp_path: Path) -> None:
    samples = make_samples(20)
    path = write_corpus(tmp_path / "corpus.jsonl", samples)
    assert classifier.load_corpus(path) == samples
    with path.open("a", encoding="utf-8") as out:
        out.write('{"id": "half-written", "title": \n')
    with pytest.raises(ValueError, match="line 21"):
        classifier.load_corpus(path)


def test_stratified_split_keeps_strata_and_rare_ones() -> None:
    samples = [*make_samples(120), LabelledText("lonely", "other", CRITICAL, "en")]
    samples = [s._replace(text=f"{s.text} #{i}") for i, s in enumerate(samples)]  # distinct
    train, test = classifier.stratified_split(samples, test_size=0.25, seed=1)
    assert len(train) + len(test) == len(samples)
    assert not set(train) & set(test)
    assert len(test) == pytest.approx(len(samples) * 0.25, abs=1)
    for language in ("zh", "en"):
        share = sum(s.language == language for s in test) / len(test)
        assert share == pytest.approx(0.5, abs=0.1)
    again = classifier.stratified_split(samples, test_size=0.25, seed=1)
    assert again == (train, test)


# --- The lean prediction path matches scikit-learn --------------------------------------


def test_lean_vectorise_matches_sklearn(model: TrainedModel) -> None:
    texts = [s.text for s in make_samples(30, seed=99)] + ["", "!!!", "路灯 street light 12"]
    lean = model.vectorise(texts).toarray()
    reference = classifier._vectorise(model.vectorisers, texts).toarray()
    np.testing.assert_allclose(lean, reference, atol=1e-12)


@pytest.mark.parametrize("head", ["category_head", "priority_head"])
def test_lean_probabilities_match_sklearn(model: TrainedModel, head: str) -> None:
    texts = [s.text for s in make_samples(30, seed=99)]
    X = model.vectorise(texts)
    fitted = getattr(model, head)
    assert fitted.calibration == "sigmoid"
    reference = fitted.model.predict_proba(X)
    np.testing.assert_allclose(fitted._learnt_proba(X), reference, atol=1e-12)


def test_lean_probabilities_match_sklearn_uncalibrated_and_binary() -> None:
    samples = [s for s in make_samples(80) if s.category in {"facilities", "efficiency"}]
    samples.append(LabelledText("lone\nsomething else", "other", NORMAL, "en"))
    model = classifier.train(samples, FAST)
    X = model.vectorise([s.text for s in samples])
    assert model.category_head.calibration == "none"  # "other" has one example
    np.testing.assert_allclose(
        model.category_head._learnt_proba(X), model.category_head.model.predict_proba(X)
    )
    binary = classifier.train([s for s in samples if s.category != "other"], FAST)
    assert binary.category_head.sigmoid is not None
    assert binary.category_head.sigmoid.shape == (2, 1)
    X = binary.vectorise([s.text for s in samples])
    np.testing.assert_allclose(
        binary.category_head._learnt_proba(X), binary.category_head.model.predict_proba(X)
    )


def test_merge_terms() -> None:
    ranked = [
        (" ", 0.9, False),  # word-boundary padding
        ("粉味", 0.5, False),
        ("of the", 0.45, True),  # stop words only
        ("漂白粉", 0.3, False),
        ("gas", 0.25, True),
        ("白粉味", 0.2, False),
        ("gas leak", 0.2, True),
        ("白粉", 0.1, False),
        ("粉红", 0.05, False),  # overlaps "白粉" but "白粉红" is not in the text
    ]
    merged = classifier._merge_terms(ranked, top=5, text="自来水有漂白粉味 粉红")
    assert merged == [("漂白粉味", 1.1), ("gas leak", 0.45), ("粉红", 0.05)]
