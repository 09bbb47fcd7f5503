"""Acceptance numbers for rendered video (issue 20), on the shipped scenario.

Usage: uv run python benchmarks/check_video.py DIR [--frames-to docs]

DIR is a rendered and detected directory (`riskclass video render
configs/video_lighting.yaml --out DIR` then `riskclass video run DIR`). Prints:

1. HOG's miss rate per skin reflectance against absolute yaw and against light,
   each with its standard error over faces (one person in one scene is a cluster:
   its frames are correlated), and whether the rise from the first to the last
   level seen in at least two faces exceeds two standard errors for every skin
   reflectance;
2. dlib's HOG detector confidence (``run(image, 1, -1)``, best score) on the real
   portraits in ../shared/faces and on the rendered enrollment portraits, and
   dlib's encoding distances: between rendered identities (impostors) and
   between the real portraits of different people.

``--frames-to`` writes the first frame of the first scene of each lighting,
320 x 240, as JPEG into that folder (the README shows them).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from riskclass.analysis import condition_bins
from riskclass.pipeline import load_face_recognition, read_image

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "faces"


def clustered(detections: pd.DataFrame, level: str) -> pd.DataFrame:
    """Miss rate and its standard error per skin reflectance and ``level``, faces as clusters."""
    per_face = (
        detections.assign(miss=~detections["hog"].astype(bool))
        .groupby(["skin_reflectance", level, "video", "person_id"], observed=True)["miss"]
        .agg(["sum", "count"])
        .reset_index()
    )
    rows = []
    for (skin, value), faces in per_face.groupby(["skin_reflectance", level], observed=True):
        misses, frames = faces["sum"].to_numpy(float), faces["count"].to_numpy(float)
        rate = misses.sum() / frames.sum()
        # Ratio-estimator standard error over clusters.
        k = len(faces)
        se = (
            np.sqrt(k / (k - 1) * np.sum((misses - rate * frames) ** 2)) / frames.sum()
            if k > 1
            else np.nan
        )
        rows.append((skin, value, k, int(frames.sum()), rate, se))
    return pd.DataFrame(rows, columns=["skin", level, "faces", "frames", "miss_rate", "se"])


def rises(table: pd.DataFrame, level: str, order: list[str]) -> bool:
    verdict = True
    for skin, rows in table.groupby("skin"):
        # A level seen in one face only has no standard error: it cannot be compared.
        rows = rows.set_index(level).reindex(order).dropna(subset=["miss_rate", "se"])
        first, last = rows.iloc[0], rows.iloc[-1]
        gap = last["miss_rate"] - first["miss_rate"]
        error = float(np.hypot(first["se"], last["se"]))
        ok = gap > 2 * error
        verdict &= ok
        print(
            f"  skin {skin}: {rows.index[0]} {first['miss_rate']:.3f} -> {rows.index[-1]} "
            f"{last['miss_rate']:.3f}, rise {gap:+.3f} vs 2 SE {2 * error:.3f}: "
            f"{'yes' if ok else 'NO'}"
        )
    return verdict


def best_score(detector: object, image: np.ndarray) -> float:
    _, scores, _ = detector.run(image, 1, -1)  # type: ignore[attr-defined]
    return float(max(scores)) if len(scores) else float("nan")


def portraits(directory: Path) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Print the portraits' numbers; return the rendered identities' encodings and
    the distances between them (impostor pairs)."""
    face_recognition = load_face_recognition()
    import dlib

    detector = dlib.get_frontal_face_detector()
    real = sorted(REAL.glob("*.jpg"))
    real_scores = [best_score(detector, read_image(p)) for p in real]
    print("real portraits, HOG best score:", ", ".join(f"{s:.2f}" for s in real_scores))
    persons = pd.read_csv(directory / "persons.csv")
    scores, encodings = [], {}
    for row in persons.itertuples():
        image = read_image(directory / "enroll" / f"{row.person_id}.png")
        scores.append((row.skin_reflectance, best_score(detector, image)))
        found = face_recognition.face_encodings(image)
        if len(found) == 1:
            encodings[row.person_id] = found[0]
    table = pd.DataFrame(scores, columns=["skin", "score"])
    summary = table.groupby("skin")["score"].agg(["count", "median", "min", "max"])
    print("rendered enrollment portraits, HOG best score by skin reflectance:")
    print(summary.round(2).to_string())
    ids = sorted(encodings)
    pairs = itertools.combinations(ids, 2)
    distances = np.array([np.linalg.norm(encodings[a] - encodings[b]) for a, b in pairs])
    low, high = np.quantile(distances, [0.05, 0.95])
    print(
        f"rendered impostor distances ({len(ids)} encoded identities, {len(distances)} pairs): "
        f"median {np.median(distances):.3f}, 5%-95% {low:.3f}-{high:.3f}, "
        f"share below 0.6: {np.mean(distances < 0.6):.3f}"
    )
    real_enc = {p.stem: face_recognition.face_encodings(read_image(p))[0] for p in real}
    cross = [
        float(np.linalg.norm(real_enc[a] - real_enc[b]))
        for a, b in itertools.combinations(sorted(real_enc), 2)
        if a.split("_")[0] != b.split("_")[0]
    ]
    print(f"real impostor distances: {', '.join(f'{d:.3f}' for d in cross)}")
    return encodings, distances


def frames_to(directory: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    truth = pd.read_csv(directory / "ground_truth.csv")
    for lighting, rows in truth.groupby("lighting", sort=False):
        video = sorted(rows["video"].unique())[0]
        capture = cv2.VideoCapture(str(directory / "scenes" / video))
        ok, frame = capture.read()
        capture.release()
        if ok:
            small = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
            path = folder / f"video_{lighting}.jpg"
            cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, 85])
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--frames-to", type=Path)
    args = parser.parse_args()
    detections = condition_bins(pd.read_csv(args.directory / "results" / "detections.csv"))
    pd.set_option("display.width", 160)
    by_yaw = clustered(detections, "yaw_bin")
    print("HOG miss rate by absolute yaw (degrees) and skin reflectance:")
    print(by_yaw.round(3).to_string(index=False))
    yaw_order = sorted(
        detections["yaw_bin"].unique(), key=lambda b: int(b.split("-")[0].rstrip("+"))
    )
    yaw_ok = rises(by_yaw, "yaw_bin", yaw_order)
    by_light = clustered(detections, "lighting")
    print("HOG miss rate by lighting and skin reflectance:")
    print(by_light.round(3).to_string(index=False))
    light_order = list(
        detections.drop_duplicates("lighting").sort_values("light", ascending=False)["lighting"]
    )
    light_ok = rises(by_light, "lighting", light_order)
    print(f"miss rate rises with yaw for every skin reflectance: {yaw_ok}")
    print(f"miss rate rises as light falls for every skin reflectance: {light_ok}")
    portraits(args.directory)
    if args.frames_to:
        frames_to(args.directory, args.frames_to)


if __name__ == "__main__":
    main()
