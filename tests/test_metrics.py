"""metrics: accuracy, confusion matrix, per-class accuracy and the classification report,
against values computed by hand."""
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import metrics

# Six samples of three classes. By hand:
#   confusion (rows true, columns predicted) = [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
#   precision = [1/2, 2/3, 1], recall = [1/2, 2/3, 1], F1 = [1/2, 2/3, 1], support = [2, 3, 1]
#   accuracy = 4/6; macro precision = (1/2 + 2/3 + 1) / 3 = 13/18; weighted = (2/2 + 3*2/3 + 1) / 6 = 4/6
Y_TRUE = [0, 0, 1, 1, 1, 2]
Y_PRED = [0, 1, 1, 1, 0, 2]


def test_accuracy_from_labels_and_from_logits():
    assert metrics.accuracy(np.array(Y_PRED), np.array(Y_TRUE)) == pytest.approx(4 / 6)
    logits = np.full((6, 3), -1.0, dtype=np.float32)
    logits[np.arange(6), Y_PRED] = 2.0          # argmax = Y_PRED
    assert metrics.accuracy(tc.tensor(logits), tc.tensor(Y_TRUE)) == pytest.approx(4 / 6)
    assert metrics.accuracy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64)) == 0.0
    with pytest.raises(ValueError, match="6 predictions but 5 targets"):
        metrics.accuracy(np.array(Y_PRED), np.array(Y_TRUE[:5]))
    with pytest.raises(ValueError, match="shape"):
        metrics.accuracy(np.zeros((2, 3, 4)), np.zeros(2))


def test_confusion_matrix_by_hand():
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [1, 2, 0], [0, 0, 1]])
    assert cm.dtype == np.int64
    cm4 = metrics.confusion_matrix(tc.tensor(Y_TRUE), np.array(Y_PRED), num_classes=4)
    np.testing.assert_array_equal(cm4, [[1, 1, 0, 0], [1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="label 2 is outside 0..1"):
        metrics.confusion_matrix(Y_TRUE, Y_PRED, num_classes=2)
    with pytest.raises(ValueError, match="must be integers"):
        metrics.confusion_matrix([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match=">= 0"):
        metrics.confusion_matrix([-1, 1], [0, 1])


def test_per_class_accuracy_by_hand():
    np.testing.assert_allclose(metrics.per_class_accuracy(Y_TRUE, Y_PRED), [1 / 2, 2 / 3, 1])
    acc = metrics.per_class_accuracy([0, 0, 1], [0, 1, 0], num_classes=3)
    assert acc[0] == 0.5 and acc[1] == 0.0 and math.isnan(acc[2])  # class 2 has no samples


def test_precision_recall_f1_by_hand_with_zero_denominators():
    precision, recall, f1, support = metrics.precision_recall_f1(Y_TRUE, Y_PRED)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(recall, [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(f1, [1 / 2, 2 / 3, 1])
    np.testing.assert_array_equal(support, [2, 3, 1])
    # Class 0 always true, predicted 3 of 4 times; class 1 predicted once, never true.
    # precision = [3/3, 0/1], recall = [3/4, 0/0 -> 0], F1 class 0 = 2 * 1 * 0.75 / 1.75 = 6/7
    precision, recall, f1, support = metrics.precision_recall_f1([0, 0, 0, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(precision, [1.0, 0.0])
    np.testing.assert_allclose(recall, [0.75, 0.0])
    np.testing.assert_allclose(f1, [6 / 7, 0.0])
    np.testing.assert_array_equal(support, [4, 0])


def test_classification_report_dict_by_hand():
    report = metrics.classification_report(Y_TRUE, Y_PRED, class_names=["cat", "dog", "bird"], output_dict=True)
    assert report["dog"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert report["cat"]["f1"] == pytest.approx(0.5)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro avg"]["precision"] == pytest.approx(13 / 18)
    assert report["weighted avg"]["recall"] == pytest.approx(4 / 6)
    assert report["weighted avg"]["support"] == 6
    with pytest.raises(ValueError, match="3 class names but num_classes=4"):
        metrics.classification_report(Y_TRUE, Y_PRED, class_names=["a", "b", "c"], num_classes=4)


def test_classification_report_text_table():
    text = metrics.classification_report(Y_TRUE, Y_PRED, class_names=["cat", "dog", "bird"], digits=3)
    lines = text.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[2].split() == ["cat", "0.500", "0.500", "0.500", "2"]
    assert lines[3].split() == ["dog", "0.667", "0.667", "0.667", "3"]
    assert "accuracy" in text and lines[-3].split() == ["accuracy", "0.667", "6"]
    assert lines[-2].split() == ["macro", "avg", "0.722", "0.722", "0.722", "6"]
