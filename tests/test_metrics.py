"""minidl.metrics: per-class AP/AUC equal scikit-learn, a hand-computed example, skipped classes, d'."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

import minidl
from minidl.data.labels import builtin_classes
from minidl.metrics import average_precision, d_prime, evaluate, roc_auc, scored_classes


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.random((400, 30)) < np.linspace(0.01, 0.5, 30)
    y[:, 3] = False          # no positive
    y[:, 7] = True           # no negative
    scores = y * rng.random((400, 30)) + rng.random((400, 30))
    return y, scores


def test_per_class_equals_scikit_learn(data):
    y, s = data
    ap, auc = average_precision(y, s), roc_auc(y, s)
    for c in range(30):
        if c in (3, 7):
            assert math.isnan(ap[c]) and math.isnan(auc[c])
        else:
            assert ap[c] == pytest.approx(average_precision_score(y[:, c], s[:, c]), abs=1e-12)
            assert auc[c] == pytest.approx(roc_auc_score(y[:, c], s[:, c]), abs=1e-12)


def test_hand_computed_example():
    # class 0: scores 0.9 (+), 0.8 (-), 0.7 (+), 0.1 (-)
    #   AP = 1/2 * (1/1) + 1/2 * (2/3) = 5/6;  AUC = pairs (+ above -) = 3 of 4 = 0.75
    # class 1: scores 0.2 (-), 0.6 (+), 0.4 (-), 0.3 (-): perfect ranking -> AP 1, AUC 1
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    s = np.array([[0.9, 0.2], [0.8, 0.6], [0.7, 0.4], [0.1, 0.3]])
    result = evaluate(y, s, class_names=["Dog", "Cat"])
    np.testing.assert_allclose(result.ap, [5 / 6, 1.0])
    np.testing.assert_allclose(result.auc, [0.75, 1.0])
    assert result.mAP == pytest.approx((5 / 6 + 1) / 2)
    assert result.mAUC == pytest.approx(0.875)
    assert result.d_prime == pytest.approx(math.sqrt(2) * 1.1503493803760079)  # Phi^-1(0.875)


def test_skipped_classes_are_counted_and_never_nan(data):
    y, s = data
    result = evaluate(y, s)
    assert result.skipped == 2 and result.scored.sum() == 28
    assert scored_classes(y).tolist() == result.scored.tolist()
    assert not math.isnan(result.mAP) and not math.isnan(result.mAUC)
    assert result.mAP == pytest.approx(np.nanmean(result.ap))
    assert "(28 classes scored, 2 skipped)" in result.summary()
    assert "2 classes skipped" in result.report()


def test_d_prime():
    assert d_prime(0.5) == 0.0
    assert d_prime(0.75) == pytest.approx(math.sqrt(2) * 0.6744897501960817)
    assert d_prime(1.0) == math.inf
    np.testing.assert_allclose(d_prime(np.array([0.5, 0.9])), [0.0, math.sqrt(2) * 1.2815515655446004])


def test_report_uses_audioset_display_names_and_note():
    rng = np.random.default_rng(1)
    y = rng.random((300, 527)) < 0.05
    s = y + rng.random((300, 527))
    result = evaluate(y, s, note="SYNTHETIC features")
    report = result.report(top=5, sort_by="positives")
    assert report.startswith("> SYNTHETIC features")
    assert report.count("\n| ") == 6  # header + 5 rows
    most = int(np.argmax(y.sum(0)))
    assert f"| 1 | {builtin_classes().names[most]} |" in report
    assert "SYNTHETIC features" in result.summary()
    with pytest.raises(ValueError, match="sort_by"):
        result.report(sort_by="name")


def test_accepts_minidl_tensors(data):
    y, s = data
    from_tensors = evaluate(minidl.tensor(y.astype(np.float32)), minidl.tensor(s.astype(np.float32)))
    assert from_tensors.mAP == pytest.approx(evaluate(y, s.astype(np.float32)).mAP)


@pytest.mark.parametrize(("y", "s", "message"), [
    (np.zeros((4, 3)), np.zeros((4, 2)), r"both be \(N, C\)"),
    (np.zeros(4), np.zeros(4), r"both be \(N, C\)"),
    (np.full((2, 2), 2), np.zeros((2, 2)), "must be 0/1"),
    (np.eye(2), np.array([[0.1, np.nan], [0.2, 0.3]]), r"non-finite values, first at \(row, class\) \(0, 1\)"),
])
def test_bad_input(y, s, message):
    with pytest.raises(ValueError, match=message):
        evaluate(y, s)


def test_class_name_count_must_match():
    with pytest.raises(ValueError, match="3 class names for 2 classes"):
        evaluate(np.eye(2), np.eye(2), class_names=["a", "b", "c"])
