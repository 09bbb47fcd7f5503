"""The pipeline on rendered video: real detectors, tracks, the real encoder, matching.

Faces are found by face_recognition's HOG detector and, as a second detector, by
OpenCV's Haar cascade; HOG detections are linked across frames into tracks; each
track's largest face is encoded with face_recognition's 128-d encoder and compared
with the encodings of the enrollment portraits. Everything is scored against the
renderer's ground truth.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pandas as pd

from riskclass import DataError

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)
# A detection and a ground-truth face are the same face when their boxes overlap
# this much (intersection over union); HOG's box is tighter than the drawn head.
MATCH_IOU = 0.3
# Detections in consecutive frames belong to one track when they overlap this much.
TRACK_IOU = 0.3
_HAAR = "haarcascade_frontalface_default.xml"


def load_face_recognition() -> Any:
    """The face_recognition module, imported quietly (it loads dlib and its models)."""
    with warnings.catch_warnings():
        # face_recognition_models still imports pkg_resources, which warns of its removal.
        warnings.simplefilter("ignore", UserWarning)
        import face_recognition

    return face_recognition


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """An image as RGB, or a `DataError` naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: image not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{path}: not a readable image (missing, corrupt or an unknown format)")
    return np.ascontiguousarray(image[:, :, ::-1])


def encode_image(path: Path) -> tuple[npt.NDArray[np.float64] | None, int]:
    """The 128-d encoding of the single face in an image, and how many faces were found.

    Returns ``(None, count)`` unless exactly one face is found.
    """
    face_recognition = load_face_recognition()
    image = read_image(path)
    boxes = face_recognition.face_locations(image)
    if len(boxes) != 1:
        return None, len(boxes)
    return np.asarray(face_recognition.face_encodings(image, boxes)[0]), 1


def frames(path: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """The frames of a video as RGB arrays, or a `DataError` naming the file."""
    if not path.is_file():
        raise DataError(f"{path}: video not found")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DataError(f"{path}: not a readable video (missing, corrupt or an unknown codec)")
        count = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield np.ascontiguousarray(frame[:, :, ::-1])
        if count == 0:
            raise DataError(f"{path}: the video has no readable frames")
    finally:
        capture.release()


def _box(values: Any) -> Box:
    top, right, bottom, left = (int(v) for v in values)
    return top, right, bottom, left


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(top, right, bottom, left)`` boxes.

    Examples
    --------
    >>> iou((0, 10, 10, 0), (0, 15, 10, 5))
    0.3333333333333333
    """
    height = min(a[2], b[2]) - max(a[0], b[0])
    width = min(a[1], b[1]) - max(a[3], b[3])
    if height <= 0 or width <= 0:
        return 0.0
    inter = height * width
    area = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / area


def _pair(detections: list[Box], truths: list[Box], threshold: float) -> dict[int, int]:
    """Greedy one-to-one pairing by overlap: truth index -> detection index."""
    scored = sorted(
        ((iou(d, t), ti, di) for ti, t in enumerate(truths) for di, d in enumerate(detections)),
        reverse=True,
    )
    paired: dict[int, int] = {}
    used: set[int] = set()
    for overlap, ti, di in scored:
        if overlap < threshold:
            break
        if ti not in paired and di not in used:
            paired[ti] = di
            used.add(di)
    return paired


@dataclass
class _Track:
    boxes: list[tuple[int, Box]]  # (frame, box)
    truth: list[int]  # ground-truth person of each paired detection, -1 when none
    best_frame: npt.NDArray[np.uint8] | None = None
    best_box: Box | None = None

    def area(self, box: Box) -> int:
        return (box[2] - box[0]) * (box[1] - box[3])


@dataclass(frozen=True)
class VideoResults:
    """Per ground-truth face and frame (``detections``), per track (``tracks``) and per
    person's enrollment portrait (``enrollment``: faces found, enrolled or not)."""

    detections: pd.DataFrame
    tracks: pd.DataFrame
    enrollment: pd.DataFrame


def run_on_video(
    directory: Path,
    *,
    tolerance: float,
    detector: str = "hog",
    upsample: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> VideoResults:
    """Detect, track, encode and match every scene rendered into ``directory``.

    ``detector`` is face_recognition's model: ``"hog"`` or ``"cnn"`` (dlib's CNN,
    more accurate and much slower on a CPU); its detections make the tracks, and
    the Haar cascade runs beside it for comparison.
    """
    face_recognition = load_face_recognition()
    truth = _read_csv(directory / "ground_truth.csv")
    persons = _read_csv(directory / "persons.csv")
    enrollment = _enroll(directory / "enroll", persons["person_id"].tolist())
    enrolled_ids = enrollment.loc[enrollment["enrolled"], "person_id"].to_numpy(np.int64)
    enrolled = np.array(
        [e for e in enrollment["encoding"] if e is not None], dtype=np.float64
    ).reshape(len(enrolled_ids), 128)
    haar = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / _HAAR))  # type: ignore[attr-defined]
    videos = sorted((directory / "scenes").glob("*.mp4"))
    if not videos:
        raise DataError(
            f"{directory / 'scenes'}: no .mp4 scenes; run `riskclass video render` first"
        )
    detections, tracks = [], []
    for number, video in enumerate(videos, start=1):
        expected = truth[truth["video"] == video.name]
        open_tracks: list[_Track] = []
        finished: list[_Track] = []
        for index, frame in enumerate(frames(video)):
            gt = expected[expected["frame"] == index]
            gt_boxes = [_box(row) for row in gt[["top", "right", "bottom", "left"]].to_numpy()]
            hog = [
                _box(box)
                for box in face_recognition.face_locations(frame, upsample, model=detector)
            ]
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            haar_boxes = [
                (int(y), int(x + w), int(y + h), int(x))
                for x, y, w, h in haar.detectMultiScale(gray, 1.1, 4)
            ]
            hog_pairs = _pair(hog, gt_boxes, MATCH_IOU)
            haar_pairs = _pair(haar_boxes, gt_boxes, MATCH_IOU)
            detections.append(
                gt.drop(columns=["top", "right", "bottom", "left"]).assign(
                    **{
                        detector: [ti in hog_pairs for ti in range(len(gt))],
                        "haar": [ti in haar_pairs for ti in range(len(gt))],
                    }
                )
            )
            owner = {di: int(gt["person_id"].iloc[ti]) for ti, di in hog_pairs.items()}
            open_tracks, done = _extend_tracks(open_tracks, hog, owner, index, frame)
            finished += done
        finished += open_tracks
        for track in finished:
            tracks.append(_decide(video.name, expected, track, enrolled_ids, enrolled, tolerance))
        if progress is not None:
            progress("video", number, len(videos))
    # Every ground-truth column but the box (light, face size, pose, ...) stays.
    detection_frame = pd.concat(detections, ignore_index=True)
    track_frame = pd.DataFrame(
        tracks,
        columns=[
            "video",
            "lighting",
            "frames",
            "person_id",
            "best_face_px",
            "encoded",
            "nearest_id",
            "nearest_distance",
            "own_distance",
            "matched",
            "outcome",
        ],
    )
    return VideoResults(
        detection_frame.merge(persons, on="person_id", how="left"),
        track_frame.merge(persons, on="person_id", how="left"),
        enrollment.drop(columns=["encoding"]).merge(persons, on="person_id", how="left"),
    )


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    # ValueError: pandas' parser and empty-data errors, and bytes that are not UTF-8.
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read ({str(exc)[:200]})") from None


def _enroll(directory: Path, person_ids: list[int]) -> pd.DataFrame:
    """Each portrait's faces found and encoding; enrolled when exactly one face is found."""
    rows = []
    for person_id in person_ids:
        encoding, faces = encode_image(directory / f"{person_id}.png")
        rows.append((person_id, faces, encoding is not None, encoding))
    return pd.DataFrame(rows, columns=["person_id", "faces_found", "enrolled", "encoding"])


def _extend_tracks(
    tracks: list[_Track],
    boxes: list[Box],
    owner: dict[int, int],
    frame_index: int,
    frame: npt.NDArray[np.uint8],
) -> tuple[list[_Track], list[_Track]]:
    """Continue tracks with this frame's detections; tracks not continued end."""
    last = [track.boxes[-1][1] for track in tracks]
    pairs = _pair(boxes, last, TRACK_IOU)  # track index -> detection index
    continued: list[_Track] = []
    for ti, di in pairs.items():
        tracks[ti].boxes.append((frame_index, boxes[di]))
        tracks[ti].truth.append(owner.get(di, -1))
        continued.append(tracks[ti])
    taken = set(pairs.values())
    for di, box in enumerate(boxes):
        if di not in taken:
            continued.append(_Track([(frame_index, box)], [owner.get(di, -1)]))
    for track in continued:
        frame_box = track.boxes[-1][1]
        if track.best_box is None or track.area(frame_box) > track.area(track.best_box):
            track.best_box, track.best_frame = frame_box, frame
    ended = [track for i, track in enumerate(tracks) if i not in pairs]
    return continued, ended


def _decide(
    video: str,
    expected: pd.DataFrame,
    track: _Track,
    enrolled_ids: npt.NDArray[np.int64],
    enrolled: npt.NDArray[np.float64],
    tolerance: float,
) -> tuple[object, ...]:
    face_recognition = load_face_recognition()
    known = [t for t in track.truth if t >= 0]
    person = max(set(known), key=known.count) if known else -1
    lighting = expected["lighting"].iloc[0] if len(expected) else ""
    assert track.best_frame is not None and track.best_box is not None
    size = track.best_box[2] - track.best_box[0]
    encodings = face_recognition.face_encodings(track.best_frame, [track.best_box])
    track_fields = (video, lighting, len(track.boxes), person, size)
    if not encodings or len(enrolled_ids) == 0:
        return (*track_fields, False, -1, np.nan, np.nan, False, "not_encoded")
    distance = face_recognition.face_distance(enrolled, encodings[0])
    nearest = int(np.argmin(distance))
    own = distance[enrolled_ids == person]
    own_distance = float(own[0]) if len(own) else np.nan
    matched = bool(distance[nearest] <= tolerance)
    if person < 0:
        outcome = "false_match" if matched else "no_match"  # a detection of no one
    elif not matched:
        outcome = "miss"
    elif enrolled_ids[nearest] == person:
        outcome = "true_match"
    else:
        outcome = "false_match"
    nearest_id, nearest_distance = int(enrolled_ids[nearest]), float(distance[nearest])
    return (*track_fields, True, nearest_id, nearest_distance, own_distance, matched, outcome)
