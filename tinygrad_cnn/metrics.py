"""Classification metrics: accuracy, confusion matrix, per-class accuracy, precision/recall/F1.

    from tinygrad_cnn import metrics
    metrics.accuracy(logits, y)                     # logits (N, C) or predicted labels (N,)
    cm = metrics.confusion_matrix(y_true, y_pred)   # rows: true class, columns: predicted class
    print(metrics.classification_report(y_true, y_pred, class_names=ds.classes))

Inputs may be Tensors, NumPy or CuPy arrays or lists; results are NumPy arrays and Python
floats (computed on the CPU: these are small). The layout and conventions are scikit-learn's:
`confusion_matrix[i, j]` counts samples of true class i predicted as j, and a precision,
recall or F1 whose denominator is zero is reported as 0.0.
"""
import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["accuracy", "confusion_matrix", "per_class_accuracy", "precision_recall_f1",
           "classification_report"]


def _labels(values, name):
    """`values` (Tensor, numpy/cupy array, list) as a 1-d int64 numpy array."""
    if isinstance(values, Tensor):
        values = values.array
    array = np.asarray(backend.to_device(values, "cpu") if backend.is_gpu_array(values) else values)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array of class labels, got shape {array.shape}")
    if array.size and array.dtype.kind not in "iub":
        if array.dtype.kind != "f" or not np.all(array == np.round(array)):
            raise ValueError(f"{name}: class labels must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _pair(y_true, y_pred, num_classes):
    """Checked (y_true, y_pred, num_classes) with labels in 0..num_classes-1."""
    y_true = _labels(y_true, "y_true")
    y_pred = _labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    seen = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = seen
    elif seen > num_classes:
        raise ValueError(f"label {seen - 1} is outside 0..{num_classes - 1} (num_classes={num_classes})")
    if min(y_true.min(initial=0), y_pred.min(initial=0)) < 0:
        raise ValueError("class labels must be >= 0")
    return y_true, y_pred, int(num_classes)


def accuracy(output, target):
    """Fraction of correct predictions, a float in [0, 1] (0.0 for no samples).

    output: logits or scores (N, C) — the prediction is their argmax over dim 1 — or
    predicted labels (N,). target: true labels (N,).
    """
    if isinstance(output, Tensor):
        output = output.array
    if backend.is_gpu_array(output):
        output = backend.to_device(output, "cpu")
    output = np.asarray(output)
    if output.ndim == 2:
        output = output.argmax(axis=1)
    elif output.ndim != 1:
        raise ValueError(f"accuracy: expected logits (N, C) or labels (N,), got shape {output.shape}")
    pred = _labels(output, "accuracy (predictions)")
    true = _labels(target, "accuracy (targets)")
    if pred.shape != true.shape:
        raise ValueError(f"accuracy: {pred.size} predictions but {true.size} targets")
    return float((pred == true).mean()) if pred.size else 0.0


def confusion_matrix(y_true, y_pred, num_classes=None):
    """(num_classes, num_classes) int64 counts: entry [i, j] counts true class i predicted as j.

    num_classes defaults to 1 + the largest label seen in either array.
    """
    y_true, y_pred, k = _pair(y_true, y_pred, num_classes)
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k).astype(np.int64)


def _safe_divide(num, den):
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def per_class_accuracy(y_true, y_pred, num_classes=None):
    """Accuracy within each true class (= recall): float64 array, NaN for a class with no samples."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def precision_recall_f1(y_true, y_pred, num_classes=None):
    """Per-class (precision, recall, f1, support) arrays; 0.0 where a denominator is zero."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return precision, recall, f1, support


def classification_report(y_true, y_pred, class_names=None, num_classes=None, digits=4, output_dict=False):
    """Precision, recall, F1 and support per class, plus accuracy and macro/weighted averages.

    Returns a text table (scikit-learn's layout), or with output_dict=True a dict:
    {class name: {"precision", "recall", "f1", "support"}, ..., "accuracy": float,
     "macro avg": {...}, "weighted avg": {...}}.
    class_names: names of classes 0..K-1 (default "0", "1", ...); their count fixes K.
    """
    if class_names is not None:
        class_names = [str(c) for c in class_names]
        if num_classes is not None and num_classes != len(class_names):
            raise ValueError(f"{len(class_names)} class names but num_classes={num_classes}")
        num_classes = len(class_names)
    precision, recall, f1, support = precision_recall_f1(y_true, y_pred, num_classes)
    k = len(support)
    names = class_names if class_names is not None else [str(i) for i in range(k)]
    total = int(support.sum())
    report = {}
    for i, name in enumerate(names):
        report[name] = {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                        "support": int(support[i])}
    report["accuracy"] = float(np.diag(confusion_matrix(y_true, y_pred, k)).sum() / total) if total else 0.0
    weights = support / total if total else np.zeros(k)
    report["macro avg"] = {"precision": float(precision.mean()) if k else 0.0,
                           "recall": float(recall.mean()) if k else 0.0,
                           "f1": float(f1.mean()) if k else 0.0, "support": total}
    report["weighted avg"] = {"precision": float((precision * weights).sum()),
                              "recall": float((recall * weights).sum()),
                              "f1": float((f1 * weights).sum()), "support": total}
    if output_dict:
        return report
    return _format_report(report, names, digits)


def _format_report(report, names, digits):
    width = max([len(n) for n in names] + [len("weighted avg")])
    head = f"{'':>{width}}  {'precision':>9}  {'recall':>9}  {'f1-score':>9}  {'support':>7}"
    lines = [head, ""]

    def row(name, r):
        return (f"{name:>{width}}  {r['precision']:>9.{digits}f}  {r['recall']:>9.{digits}f}  "
                f"{r['f1']:>9.{digits}f}  {r['support']:>7d}")

    lines += [row(n, report[n]) for n in names]
    lines.append("")
    total = report["macro avg"]["support"]
    lines.append(f"{'accuracy':>{width}}  {'':>9}  {'':>9}  {report['accuracy']:>9.{digits}f}  {total:>7d}")
    lines.append(row("macro avg", report["macro avg"]))
    lines.append(row("weighted avg", report["weighted avg"]))
    return "\n".join(lines)
