"""Sample output images as in the thesis (Figure 5.7 for MNIST, Figures 5.13-5.16 for Cityscapes).

The thesis argued from such pictures that small metric differences between modes are invisible; writing
them for our own runs lets a reader check that claim. Written only when asked, into the caller's folder,
each file atomically (temp name in the same folder, then rename), so an interrupted run leaves no half PNG.

Pure numpy + matplotlib: callers pass the predictions (the run stage computed them), nothing here imports
TensorFlow or an interpreter. Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas rather
than pyplot, so no global figure state or GUI backend is involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from qbench import metrics
from qbench.cache import atomic_file
from qbench.modes import REFERENCE_MODE

WRONG = "#d62728"
RIGHT = "#2ca02c"
CAPTION = "#666666"  # the thesis printed its comparison in gray under each figure


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_file(path, "wb") as f:
        fig.savefig(f, format="png")
    return path


def _check(labels: np.ndarray, predictions_by_mode: Mapping[str, np.ndarray], images: np.ndarray) -> None:
    if not predictions_by_mode:
        raise ValueError("no predictions given")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    for mode, predicted in predictions_by_mode.items():
        if np.shape(predicted) != np.shape(labels):
            raise ValueError(f"predictions of {mode} have shape {np.shape(predicted)}, labels {np.shape(labels)}")


def pick_samples(labels: np.ndarray, predictions_by_mode: Mapping[str, np.ndarray], count: int) -> list[int]:
    """The first ``count`` samples, except that up to a quarter are the first ones some mode gets wrong:
    a grid of only correct digits would not show what quantization changes."""
    wrong = np.zeros(len(labels), bool)
    for predicted in predictions_by_mode.values():
        wrong |= np.asarray(predicted) != labels
    chosen = [int(i) for i in np.flatnonzero(wrong)[: count // 4]]
    chosen += [i for i in range(len(labels)) if i not in chosen][: count - len(chosen)]
    return sorted(chosen)


def write_classification_samples(
    images: np.ndarray,
    labels: np.ndarray,
    predictions_by_mode: Mapping[str, np.ndarray],
    out: Path | str,
    *,
    count: int = 12,
    indices: list[int] | None = None,
    class_names: tuple[str, ...] | None = None,
    filename: str = "classification-samples.png",
) -> list[Path]:
    """One grid, a row per mode and a column per sample, each digit titled with its true and predicted
    class; wrong predictions in red with a red frame. ``images``: N x H x W (or N x H x W x 1)."""
    images, labels = np.asarray(images), np.asarray(labels)
    _check(labels, predictions_by_mode, images)
    indices = list(indices) if indices is not None else pick_samples(labels, predictions_by_mode, count)
    name = (lambda c: class_names[c]) if class_names else str
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(1.1 * len(indices) + 0.8, 1.45 * len(predictions_by_mode) + 0.4), dpi=100)
    grid = fig.subplots(len(predictions_by_mode), len(indices), squeeze=False)
    for row, (mode, predicted) in zip(grid, predictions_by_mode.items()):
        row[0].set_ylabel(mode, fontsize=11, fontweight="bold")
        for ax, i in zip(row, indices):
            ok = predicted[i] == labels[i]
            ax.imshow(images[i].squeeze(), cmap="gray")
            ax.set_title(f"true {name(labels[i])}\npred {name(predicted[i])}", fontsize=8, color=RIGHT if ok else WRONG)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(RIGHT if ok else WRONG)
                spine.set_linewidth(1 if ok else 3)
    fig.suptitle("sample predictions per quantization mode (red: wrong)", fontsize=11)
    fig.tight_layout()
    return [_save(fig, out / filename)]


def colorize(label: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """trainId map -> RGB; 255 (ignore) and anything beyond the palette is black."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(colors)] = colors
    return lut[np.asarray(label, np.uint8)]


def _more(delta: float) -> str:
    return "more" if delta > 0 else "less"


def _comparison(mode: str, result: Mapping, base: Mapping | None, baseline: str) -> str:
    """The thesis's caption: '0.48% more pixel accuracy and 0.0019 less mIoU than the original model'."""
    if base is None or mode == baseline:
        return f"{mode} is the baseline"
    d_acc = 100 * (result["pixel_accuracy"] - base["pixel_accuracy"])
    d_iou = result["miou"] - base["miou"]
    if round(d_acc, 2) == 0 and round(d_iou, 4) == 0:
        return f"same pixel accuracy and mIoU as {baseline}"
    acc = f"{abs(d_acc):.2f} pp {_more(d_acc)} pixel accuracy" if round(d_acc, 2) else "same pixel accuracy"
    iou = f"{abs(d_iou):.4f} {_more(d_iou)} mIoU" if round(d_iou, 4) else "same mIoU"
    return f"{acc} and {iou} than {baseline}"


def _frame_metrics(predicted: np.ndarray, label: np.ndarray, num_classes: int) -> dict[str, float]:
    cm = metrics.confusion_matrix(predicted, label, num_classes)
    return {"pixel_accuracy": metrics.pixel_accuracy(cm), "miou": metrics.mean_iou(cm)}


def write_segmentation_samples(
    images: np.ndarray,
    labels: np.ndarray,
    predictions_by_mode: Mapping[str, np.ndarray],
    metrics_by_mode: Mapping[str, Mapping[str, float]],
    out: Path | str,
    class_names: tuple[str, ...],
    *,
    indices: list[int] | None = None,
    colors: np.ndarray | None = None,
    baseline: str = REFERENCE_MODE,
    alpha: float = 0.5,
) -> list[Path]:
    """Per sample and mode one PNG: input | colour-coded prediction | overlay | legend of the classes
    predicted, captioned with the eval set's pixel accuracy and mIoU (``metrics_by_mode[mode]``, keys as
    qbench.measure writes them) and their difference to ``baseline``, and the same for this frame alone.
    ``images`` uint8 N x H x W x 3, ``labels`` and predictions N x H x W trainIds (255 = ignore);
    ``colors`` defaults to the Cityscapes palette. Default: the first sample only (as the thesis did)."""
    images, labels = np.asarray(images), np.asarray(labels)
    _check(labels, predictions_by_mode, images)
    if images.dtype != np.uint8 or images.shape[:3] != labels.shape or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 N x H x W x 3 matching the labels, got {images.dtype} {images.shape}")
    if colors is None:
        from qbench.data.labels import palette

        colors = palette()
    colors = np.asarray(colors, np.uint8)
    if len(colors) < len(class_names):
        raise ValueError(f"{len(colors)} colours for {len(class_names)} classes")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i in indices if indices is not None else [0]:
        image = images[i]
        for mode, predicted in predictions_by_mode.items():
            prediction = np.asarray(predicted[i])
            painted = colorize(prediction, colors)
            valid = (prediction < len(class_names))[..., None]
            overlay = np.where(valid, (1 - alpha) * image + alpha * painted, image).astype(np.uint8)
            present = [c for c in np.unique(prediction) if c < len(class_names)]
            columns = 1 if len(present) <= 10 else 2  # all 19 classes must fit beside the pictures
            fig = Figure(figsize=(15 + 1.6 * columns, 3.9), dpi=100)
            axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [4, 4, 4, 1.6 * columns]})
            for ax, picture, title in zip(axes, (image, painted, overlay), ("input", f"{mode} prediction", "overlay")):
                ax.imshow(picture)
                ax.set_title(title, fontsize=11)
                ax.axis("off")
            axes[3].axis("off")
            axes[3].legend(
                handles=[Patch(color=colors[c] / 255, label=class_names[c]) for c in present],
                loc="center left", frameon=False, fontsize=8, ncols=columns, title="classes predicted",
                title_fontsize=9, handlelength=1.2, columnspacing=0.8, borderaxespad=0,
            )
            frame = _frame_metrics(prediction, labels[i], len(class_names))
            lines = [f"this frame: pixel accuracy {100 * frame['pixel_accuracy']:.2f}%, mIoU {frame['miou']:.4f}"]
            if mode in metrics_by_mode:
                result = metrics_by_mode[mode]
                versus = _comparison(mode, result, metrics_by_mode.get(baseline), baseline)
                lines.insert(0, f"eval set: pixel accuracy {100 * result['pixel_accuracy']:.2f}%, "
                                f"mIoU {result['miou']:.4f}; {versus}")
            fig.text(0.5, 0.03, "\n".join(lines), ha="center", va="bottom", color=CAPTION, fontsize=10)
            fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.17, wspace=0.04)
            written.append(_save(fig, out / f"segmentation-{i:04d}-{mode}.png"))
    return written


def to_display(x: np.ndarray) -> np.ndarray:
    """Model inputs (any preprocessing: [0, 1], [-1, 1], ...) back to uint8 pixels, per image."""
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(1, x.ndim))
    lo, hi = x.min(axis=axes, keepdims=True), x.max(axis=axes, keepdims=True)
    return np.round(255 * (x - lo) / np.where(hi > lo, hi - lo, 1)).astype(np.uint8)


def write_fidelity_samples(
    inputs: np.ndarray,
    outputs_by_mode: Mapping[str, tuple[np.ndarray, ...]],
    metrics_by_mode: Mapping[str, Mapping],
    out: Path | str,
    *,
    baseline: str = REFERENCE_MODE,
    max_points: int = 4000,
    filename: str = "fidelity-0000.png",
) -> list[Path]:
    """For the first input: the input (when it is an image) and, per output, each mode's values against float32's
    (on the diagonal = identical), captioned with the mode's SNR over the whole evaluation set."""
    if baseline not in outputs_by_mode:
        raise ValueError(f"fidelity samples need the {baseline} outputs as the reference")
    reference = outputs_by_mode[baseline]
    modes = [m for m in outputs_by_mode if m != baseline] or [baseline]
    image = np.asarray(inputs[0])
    show_image = image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (1, 3))
    columns = len(reference) + int(show_image)
    fig = Figure(figsize=(3.2 * columns + 0.4, 3.0 * len(modes) + 0.5), dpi=100)
    grid = fig.subplots(len(modes), columns, squeeze=False)
    for row, mode in zip(grid, modes):
        if show_image:
            row[0].imshow(to_display(image[None])[0].squeeze(), cmap="gray")
            row[0].set_title("input 0", fontsize=9)
            row[0].axis("off")
        result = metrics_by_mode.get(mode, {})
        per_output = result.get("fidelity_outputs", {})
        names = list(per_output) or [str(k) for k in range(len(reference))]
        for k, (ax, ref, got) in enumerate(zip(row[int(show_image):], reference, outputs_by_mode[mode])):
            x, y = np.ravel(ref[0]), np.ravel(got[0])
            step = max(1, x.size // max_points)
            ax.scatter(x[::step], y[::step], s=3, alpha=0.5, color=WRONG if mode != baseline else RIGHT)
            lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
            ax.plot([lo, hi], [lo, hi], color=CAPTION, lw=0.8)
            name = names[k] if k < len(names) else str(k)
            snr = per_output.get(name, {}).get("snr_db")
            ax.set_title(f"{mode}: {name}"[:40] + (f", SNR {snr:.1f} dB" if snr is not None else ""), fontsize=9)
            ax.set_xlabel(f"{baseline} value", fontsize=8)
            ax.set_ylabel(f"{mode} value", fontsize=8)
    fig.suptitle("outputs against float32 on the first input (diagonal: identical)", fontsize=11)
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [_save(fig, out / filename)]


def write_run_samples(session, model_ids: list[str], mode_ids: list[str], device_id: str,
                      out: Path | str) -> list[Path]:
    """Each model's task draws its modes' predictions on one device into ``out/<model>/``."""
    from qbench.errors import NotApplicable
    from qbench.measure import predict

    written: list[Path] = []
    evaluator = session.evaluator
    for model_id in model_ids:
        modes = []
        for mode_id in mode_ids:
            try:
                session.artifacts.tflite(model_id, mode_id)
                modes.append(mode_id)
            except NotApplicable:
                continue  # the benchmark cases skipped it with the reason
        task, batch = evaluator.task(model_id), session.artifacts.spec(model_id).eval_batch
        data = evaluator.scored_set(model_id).head(task.sample_count)
        predictions = {}
        for mode_id in modes:
            with evaluator.runner(model_id, mode_id, device_id) as runner:
                predictions[mode_id] = predict(runner, data, task, batch)[0]
        quality = {m: evaluator.result(model_id, m, device_id) for m in modes}
        folder = Path(out) / model_id
        folder.mkdir(parents=True, exist_ok=True)
        written += task.write_samples(data, predictions, quality, folder)
    return written
