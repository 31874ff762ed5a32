"""Pictures of a dataset: a contact sheet with the pose drawn on, and pose distributions."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from ..pose.viewpoint import project
from ..store.schema import decode_png
from ..files import atomic_path, probe_writable
from ..store.card import POSE_PNG, SAMPLES_PNG
from ..store.dataset import open_dataset

AXIS_COLOURS = {(1, 0, 0): (230, 40, 40), (0, 1, 0): (40, 200, 40), (0, 0, 1): (40, 90, 240)}


def draw_pose(image: np.ndarray, R, t, K, keypoints: list[dict], length: float = 0.5) -> np.ndarray:
    """Object axes (x red, y green, z blue) from the label's R, t, K, plus visible keypoints."""
    out = np.ascontiguousarray(image.copy())
    axes = np.array([[0, 0, 0], [length, 0, 0], [0, length, 0], [0, 0, length]], float)
    uv, z = project(axes, np.array(R), np.array(t), np.array(K))
    if (z > 0).all():
        origin = tuple(int(round(c)) for c in uv[0])
        for end, colour in zip(uv[1:], AXIS_COLOURS.values()):
            cv2.arrowedLine(out, origin, tuple(int(round(c)) for c in end), colour, 2, cv2.LINE_AA, tipLength=0.15)
    for kp in keypoints or []:
        colour = (255, 220, 0) if kp["visible"] else (120, 120, 120)
        cv2.circle(out, (int(round(kp["x"])), int(round(kp["y"]))), 3, colour, -1, cv2.LINE_AA)
    return out


def _tile(row: dict, size: int) -> np.ndarray:
    image = draw_pose(decode_png(row["image"]), row["R"], row["t"], row["K"], row["keypoints"])
    x0, y0, x1, y1 = (int(round(v)) for v in row["bbox"])
    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255), 1)
    control = decode_png(row["control"])
    pair = np.hstack([cv2.resize(image, (size, size)), cv2.resize(control, (size, size))])
    label = f"{row['class_name'].split(',')[0][:18]} a{np.rad2deg(row['azimuth']):.0f} e{np.rad2deg(row['elevation']):.0f} t{np.rad2deg(row['theta']):.0f}"
    cv2.rectangle(pair, (0, 0), (2 * size, 16), (0, 0, 0), -1)
    cv2.putText(pair, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return pair


def contact_sheet(rows: list[dict], size: int = 192, columns: int = 4) -> np.ndarray:
    tiles = [_tile(r, size) for r in rows]
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % columns)
    grid = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(grid)


def pose_distribution(table, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    az = np.array(table["azimuth"].to_pylist())
    fig = plt.figure(figsize=(13, 3.4))
    polar = fig.add_subplot(1, 4, 1, projection="polar")
    polar.hist(az, bins=36, range=(0, 2 * np.pi), color="tab:blue")
    polar.set_theta_zero_location("S")  # azimuth 0 = seen from the front, drawn at the bottom
    polar.set_title("azimuth")
    for i, (name, unit) in enumerate((("elevation", "deg"), ("theta", "deg"), ("distance", "units")), start=2):
        values = np.array(table[name].to_pylist())
        if unit == "deg":
            values = np.rad2deg(values if name != "theta" else np.angle(np.exp(1j * values)))
        ax = fig.add_subplot(1, 4, i)
        ax.hist(values, bins=30, color="tab:orange")
        ax.set_title(f"{name} ({unit})")
    fig.suptitle(f"pose distribution, {table.num_rows} samples")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path


def _write_png(path: Path, rgb: np.ndarray) -> Path:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError(f"PNG encoding failed for {path}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())
    return path


def check_writable(out: Path, what: str = "--out") -> None:
    """Before any work: ``out`` (or the folder that would hold it) accepts files; one line if not."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{what} {out} is a file, not a folder; choose a folder")
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    probe_writable(parent, f"pass a writable {what}")


def inspect_dataset(root: Path, out: Path, n: int = 16) -> list[Path]:
    """Contact sheet of n rows spread over the dataset and the pose plot; reads only the
    row groups of the picked rows and the four pose columns, so any size works."""
    if n < 1:
        raise UserError(f"the contact sheet needs at least one sample, got n={n}")
    dataset = open_dataset(root)
    check_writable(out)
    table = dataset.table(columns=["azimuth", "elevation", "theta", "distance"])
    out.mkdir(parents=True, exist_ok=True)
    sheet = _write_png(out / "contact_sheet.png", contact_sheet(dataset.sample_rows(n)))
    return [sheet, pose_distribution(table, out / "pose_distribution.png")]


def card_pictures(root: Path, out: Path | None = None, n: int = 16) -> list[str]:
    """The dataset card's pictures (samples, pose distribution) written under ``out``
    (default ``root``); their paths relative to ``out``, for :func:`dst3d.store.card.write_card`."""
    root = Path(root)
    out = Path(out) if out is not None else root
    dataset = open_dataset(root)
    (out / SAMPLES_PNG).parent.mkdir(parents=True, exist_ok=True)
    _write_png(out / SAMPLES_PNG, contact_sheet(dataset.sample_rows(n)))
    pose_distribution(dataset.table(columns=["azimuth", "elevation", "theta", "distance"]), out / POSE_PNG)
    return [SAMPLES_PNG, POSE_PNG]
