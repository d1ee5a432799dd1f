"""Hand-worked cases for tIoU, detection AP, the Frame-Transformer protocol and accuracy."""
import math

import numpy as np
import pytest

from wecl.annotations import Segment, VideoAnnotation
from wecl.errors import WECLError
from wecl.metrics import (
    average_precision,
    class_agnostic_map,
    classification_report,
    covered_fraction,
    frame_transformer_recall,
    interpolated_ap,
    overlap_seconds,
    per_class_map,
    tiou,
    tiou_matrix,
    total_length,
    union,
)


def test_interval_arithmetic_by_hand():
    merged = union([(4.0, 5.0), (0.0, 2.0), (1.0, 3.0), (6.0, 6.0)])  # overlapping, unsorted, one empty
    assert merged == [(0.0, 3.0), (4.0, 5.0)]
    assert total_length(merged) == 4.0
    assert overlap_seconds(merged, [(2.5, 4.5)]) == pytest.approx(1.0)
    # overlapping truth is counted once: [1, 3] is covered by [0, 2] and [1.5, 2.5] up to 2.5
    assert covered_fraction((1.0, 3.0), [(0.0, 2.0), (1.5, 2.5)]) == pytest.approx(0.75)
    assert covered_fraction((2.0, 2.0), [(0.0, 5.0)]) == 0.0


def video(vid, *segments, label=None):
    """Annotation from (start, end[, label[, score]]) tuples."""
    return VideoAnnotation(vid, None, label, None, [Segment(*s) for s in segments])


# --- tIoU -----------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, expected", [
    ((0, 10), (0, 10), 1.0),
    ((0, 10), (5, 15), 5 / 15),
    ((0, 10), (2, 4), 2 / 10),
    ((0, 10), (10, 20), 0.0),  # touching, no overlap
    ((0, 10), (30, 40), 0.0),
    ((3, 3), (3, 3), 0.0),  # zero-length: defined as 0, not a division by zero
])
def test_tiou_hand_values(a, b, expected):
    assert tiou(a, b) == pytest.approx(expected)
    assert tiou(b, a) == pytest.approx(expected)


def test_tiou_matrix_agrees_with_tiou():
    a = [(0, 10), (5, 15), (3, 3)]
    b = [(0, 10), (2, 4), (8, 30), (3, 3)]
    m = tiou_matrix(a, b)
    assert m.shape == (3, 4)
    expected = np.array([[tiou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(m, expected)


# --- AP ---------------------------------------------------------------------------------------


def test_interpolated_ap_hand_worked_curve():
    # hits 1,0,1,0,1 over 3 positives: precision 1, .5, 2/3, .5, .6 at recall 1/3, 1/3, 2/3, 2/3, 1.
    # Made non-increasing: 1, 2/3, 2/3, .6, .6 -> AP = (1 + 2/3 + 3/5) / 3 = 34/45.
    assert interpolated_ap([1, 0, 1, 0, 1], 3) == pytest.approx(34 / 45)


def test_average_precision_hand_worked_ranking():
    gt = [("a", 0, 10), ("a", 20, 30), ("b", 0, 5)]
    preds = [  # listed out of order: the function must rank them by score
        ("b", 0, 5, 0.5),
        ("a", 0, 10, 0.9),
        ("a", 0, 10, 0.6),  # duplicate of a claimed segment: false positive
        ("b", 10, 20, 0.8),  # no overlap: false positive
        ("a", 20, 30, 0.7),
    ]
    assert average_precision(preds, gt, 0.5) == pytest.approx(34 / 45)


def test_perfect_prediction_gives_ap_one():
    gt = [("a", 0, 10), ("a", 20, 30), ("b", 1, 2)]
    preds = [(v, s, e, 0.9 - 0.1 * i) for i, (v, s, e) in enumerate(gt)]
    assert average_precision(preds, gt, 0.5) == 1.0


def test_ties_keep_input_order():
    gt = [("a", 0, 10)]
    fp, tp = ("a", 50, 60, 0.7), ("a", 0, 10, 0.7)
    assert average_precision([fp, tp], gt, 0.5) == pytest.approx(0.5)
    assert average_precision([tp, fp], gt, 0.5) == pytest.approx(1.0)


def test_second_detection_of_one_segment_is_false_positive():
    gt = [("a", 0, 10), ("a", 20, 30)]
    preds = [("a", 0, 10, 0.9), ("a", 0, 10, 0.8), ("a", 20, 30, 0.7)]
    # hits 1,0,1 over 2: precision 1, .5, 2/3 at recall .5, .5, 1 -> .5 * 1 + .5 * 2/3
    assert average_precision(preds, gt, 0.5) == pytest.approx(5 / 6)


def test_prediction_claims_best_overlap_not_first():
    gt = [("a", 0, 10), ("a", 3, 13)]
    # [2, 12] overlaps both (.67 and .82): it must take [3, 13], leaving [0, 10] for [0, 9]
    # (with [3, 13] it has only tIoU .46).
    preds = [("a", 2, 12, 0.9), ("a", 0, 9, 0.8)]
    assert average_precision(preds, gt, 0.5) == 1.0


def test_video_without_ground_truth_counts_false_positives():
    gt = [("a", 0, 10)]
    preds = [("unknown", 0, 10, 0.9), ("a", 0, 10, 0.5)]
    assert average_precision(preds, gt, 0.5) == pytest.approx(0.5)


def test_below_threshold_is_false_positive():
    gt = [("a", 0, 10)]
    preds = [("a", 5, 15, 0.9)]  # tIoU 1/3
    assert average_precision(preds, gt, 0.3) == 1.0
    assert average_precision(preds, gt, 0.4) == 0.0


def test_no_predictions_gives_zero_and_no_ground_truth_gives_nan():
    assert average_precision([], [("a", 0, 10)], 0.5) == 0.0
    assert math.isnan(average_precision([("a", 0, 1, 0.5)], [], 0.5))
    assert math.isnan(average_precision([], [], 0.5))


# --- mAP over annotation sets ----------------------------------------------------------------


def test_class_agnostic_map_ignores_labels_and_keys_alphas():
    gt = {"v1": video("v1", (0, 10, "joy"))}
    preds = {"v1": video("v1", (0, 10, "fear", 0.9))}
    result = class_agnostic_map(preds, gt)
    assert list(result) == ["0.1", "0.2", "0.3", "0.4", "0.5"]
    assert all(v == 1.0 for v in result.values())


def test_class_agnostic_map_per_alpha():
    gt = {"v1": video("v1", (0, 10))}
    preds = {"v1": video("v1", (0, 6, None, 0.9))}  # tIoU 0.6
    assert class_agnostic_map(preds, gt, alphas=(0.5, 0.7)) == {"0.5": 1.0, "0.7": 0.0}


def test_empty_ground_truth_map_is_nan():
    result = class_agnostic_map({"v": video("v", (0, 1, None, 0.5))}, {}, alphas=(0.5,))
    assert math.isnan(result["0.5"])


def test_per_class_map_ignores_labels_absent_from_ground_truth():
    gt = {"v1": video("v1", (0, 10), label="joy"), "v2": video("v2", (0, 10, "sadness"))}
    preds = {
        "v1": video("v1", (0, 10, "joy", 0.9)),
        "v2": video("v2", (0, 10, "sadness", 0.8)),
        "v3": video("v3", (0, 5, "fear", 0.99)),  # "fear" never occurs in the ground truth
    }
    result = per_class_map(preds, gt, alphas=(0.5,))
    assert set(result.per_class) == {"joy", "sadness"}
    assert result.per_class["joy"]["0.5"] == 1.0
    assert result.mean == {"0.5": 1.0}
    # The class-agnostic protocol does count it: FP ranked first, then precision .5 and 2/3 at
    # recall .5 and 1, made non-increasing: 2/3 at both steps.
    assert class_agnostic_map(preds, gt, alphas=(0.5,))["0.5"] == pytest.approx(2 / 3)


def test_per_class_map_wrong_class_is_false_positive_of_that_class():
    gt = {"v1": video("v1", (0, 10, "joy")), "v2": video("v2", (0, 10, "sadness"))}
    preds = {
        "v1": video("v1", (0, 10, "joy", 0.9), (0, 10, "sadness", 0.95)),
        "v2": video("v2", (0, 10, "sadness", 0.8)),
    }
    result = per_class_map(preds, gt, alphas=(0.5,))
    assert result.per_class["sadness"]["0.5"] == pytest.approx(0.5)
    assert result.mean["0.5"] == pytest.approx(0.75)


def test_prediction_without_score_is_refused():
    gt = {"v1": video("v1", (0, 10))}
    with pytest.raises(WECLError, match="v1"):
        class_agnostic_map({"v1": video("v1", (0, 10))}, gt)


# --- Frame-Transformer protocol ---------------------------------------------------------------


def test_frame_transformer_recall_uses_top_segment_per_video():
    gt = {
        "v1": video("v1", (0, 10)),
        "v2": video("v2", (0, 10), (20, 30)),
        "v3": video("v3", (0, 10)),  # no prediction: a miss
    }
    preds = {
        "v1": video("v1", (0, 10, None, 0.3), (50, 60, None, 0.9)),  # top segment misses
        "v2": video("v2", (21, 30, None, 0.8)),  # hits the second GT segment (tIoU .9)
        "v4": video("v4", (0, 1, None, 0.99)),  # no ground truth: ignored
    }
    result = frame_transformer_recall(preds, gt, alphas=(0.5, 0.95))
    assert result.recall == {"0.5": pytest.approx(1 / 3), "0.95": 0.0}
    # ranked v1 (miss), v2 (hit): precision .5 at recall 1/3
    assert result.ap["0.5"] == pytest.approx(1 / 6)
    assert result.ap["0.95"] == 0.0


def test_frame_transformer_perfect():
    gt = {"a": video("a", (1, 4), (6, 8)), "b": video("b", (0, 2))}
    preds = {"a": video("a", (6, 8, None, 0.4)), "b": video("b", (0, 2, None, 0.6))}
    result = frame_transformer_recall(preds, gt)
    assert all(v == 1.0 for v in result.recall.values())
    assert all(v == 1.0 for v in result.ap.values())


# --- classification ---------------------------------------------------------------------------


def test_classification_report_hand_values():
    report = classification_report(["a", "a", "b", "c"], ["a", "b", "b", "a"], ["a", "b", "c", "d"])
    assert report.accuracy == 0.5
    assert report.confusion == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert report.per_class_accuracy["a"] == 0.5
    assert report.per_class_accuracy["b"] == 1.0
    assert report.per_class_accuracy["c"] == 0.0
    assert math.isnan(report.per_class_accuracy["d"])  # never the true class


def test_classification_report_refuses_bad_input():
    with pytest.raises(WECLError, match="surprise"):
        classification_report(["joy"], ["surprise"], ["joy", "fear"])
    with pytest.raises(WECLError, match="2 true labels"):
        classification_report(["joy", "joy"], ["joy"], ["joy"])


def _scored(strict: bool) -> dict:
    from wecl.evaluation import score

    gt = {"a": VideoAnnotation("a", 10.0, "joy", None, [Segment(1.0, 3.0)]),
          "b": VideoAnnotation("b", 10.0, "joy", None, [Segment(5.0, 8.0)]),
          "c": VideoAnnotation("c", 10.0, "joy", None, [])}  # nobody annotated c's segments
    pred = {v: VideoAnnotation(v, 10.0, "joy", None, [Segment(*span, "joy", score)])
            for v, span, score in (("a", (1.0, 3.0), 0.5), ("b", (5.0, 8.0), 0.4), ("c", (2.0, 4.0), 0.9))}
    return score(pred, gt, ["joy", "sadness"], strict)


def test_videos_without_ground_truth_segments_are_left_out_of_detection_unless_strict():
    lenient, strict = _scored(False), _scored(True)
    assert lenient["mAP"]["0.5"] == pytest.approx(1.0)  # a and b found exactly; c's detection is not known wrong
    assert lenient["detection_videos"] == 2 and lenient["unannotated_videos"] == 1 and lenient["unannotated"] == "left out"
    # strict: c's detection ranks first and is a false positive: precision 1/2 at recall 1/2, 2/3 at recall 1,
    # interpolated (the best precision at any recall at least as high): 2/3 throughout
    assert strict["mAP"]["0.5"] == pytest.approx(2 / 3)
    assert strict["detection_videos"] == 3 and strict["unannotated"].startswith("counted")
    assert lenient["accuracy"] == strict["accuracy"] == 1.0  # classification counts every labelled video


def test_the_report_says_which_videos_detection_counted():
    from wecl.evaluation import format_report

    text = format_report(_scored(False))
    assert "detections scored on 2 of 3 videos: 1 have no ground-truth segment and are left out" in text
    assert "--strict-detection" in text
