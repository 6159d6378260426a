"""Small generated datasets and the models a test trains on them, written in every layout qbench reads.

"Bring your own model" is tested with a user's view: a Keras classifier trained here on generated data (ten bar
orientations, 28x28), saved and handed to qbench as IDX files, an .npz and a folder of PNGs; and a small
segmentation model trained on generated masks (rectangles and discs on textured background). Everything is
seeded, so the same files come out on every run.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

CLASSES = 10
SIZE = 28


def bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 28x28 images of a bright bar at one of ten orientations (the class), with jitter and noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n).astype(np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    images = np.empty((n, SIZE, SIZE), np.uint8)
    for i, label in enumerate(y):
        angle = np.pi * label / CLASSES + rng.normal(0, 0.03)
        cx, cy = rng.normal(0, 1.5, 2)
        distance = np.abs((xx - cx) * np.sin(angle) - (yy - cy) * np.cos(angle))
        along = np.abs((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle))
        bar = (distance < 1.6) & (along < 11)
        noise = rng.normal(30, 20, (SIZE, SIZE))
        images[i] = np.clip(noise + 200 * bar, 0, 255).astype(np.uint8)
    return images, y


def train_classifier(path: Path, x: np.ndarray, y: np.ndarray, epochs: int = 4) -> Path:
    """A small CNN on 0..1 inputs, dynamic batch, saved as .keras."""
    from qbench.tf import deterministic_tensorflow

    deterministic_tensorflow(0)
    import keras

    model = keras.Sequential([
        keras.layers.Input((SIZE, SIZE)),
        keras.layers.Reshape((SIZE, SIZE, 1)),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(CLASSES),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x.astype(np.float32) / 255, y, epochs=epochs, batch_size=32, verbose=0)
    model.save(path)
    return path


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + np.ascontiguousarray(array, np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, compresslevel=1, mtime=0)  # a test's speed, not the smallest file
    path.write_bytes(data)


def write_idx_set(folder: Path, x_train, y_train, x_test, y_test, compress: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                        ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)):
        write_idx(folder / name, array, compress)
    return folder


def write_image_folders(folder: Path, x: np.ndarray, y: np.ndarray, scale: int = 1) -> Path:
    """``folder/<class>/<i>.png``, each image enlarged ``scale`` times (qbench resizes it back)."""
    from PIL import Image

    for i, (image, label) in enumerate(zip(x, y)):
        sub = folder / f"class_{label}"
        sub.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(image)
        if scale != 1:
            img = img.resize((SIZE * scale, SIZE * scale), Image.Resampling.NEAREST)
        img.save(sub / f"{i:05d}.png")
    return folder


# ---- segmentation ---------------------------------------------------------------------------------------

SEG_SIZE = 32
SEG_CLASSES = ("background", "box", "disc")


def shapes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB 32x32 scenes with a box (red-ish) and a disc (blue-ish) on noise; masks 0/1/2 with a 255 (ignore)
    ring around the disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SEG_SIZE, :SEG_SIZE]
    images = np.empty((n, SEG_SIZE, SEG_SIZE, 3), np.uint8)
    masks = np.zeros((n, SEG_SIZE, SEG_SIZE), np.uint8)
    for i in range(n):
        image = rng.normal(90, 25, (SEG_SIZE, SEG_SIZE, 3))
        x0, y0 = rng.integers(0, SEG_SIZE - 12, 2)
        w, h = rng.integers(6, 12, 2)
        box = (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)
        image[box] = rng.normal([200, 70, 60], 20, (box.sum(), 3))
        cx, cy, r = *rng.integers(6, SEG_SIZE - 6, 2), rng.integers(3, 7)
        distance = np.hypot(xx - cx, yy - cy)
        disc = distance <= r
        image[disc] = rng.normal([60, 80, 210], 20, (disc.sum(), 3))
        masks[i][box] = 1
        masks[i][disc] = 2
        masks[i][(distance > r) & (distance <= r + 1)] = 255
        images[i] = np.clip(image, 0, 255).astype(np.uint8)
    return images, masks


def train_segmenter(path: Path, x: np.ndarray, y: np.ndarray, epochs: int = 6) -> Path:
    """A small fully convolutional net on 0..255 inputs (a Rescaling layer in front), output 32x32x3."""
    from qbench.tf import deterministic_tensorflow

    deterministic_tensorflow(0)
    import keras

    model = keras.Sequential([
        keras.layers.Input((SEG_SIZE, SEG_SIZE, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(len(SEG_CLASSES), 1),
    ])
    weights = (y != 255).astype(np.float32)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x.astype(np.float32), np.where(y == 255, 0, y), sample_weight=weights, epochs=epochs, batch_size=16,
              verbose=0)
    model.save(path)
    return path


def write_mask_folder(folder: Path, x: np.ndarray, y: np.ndarray, names: tuple[str, ...] | None = SEG_CLASSES) -> Path:
    from PIL import Image

    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    for i, (image, mask) in enumerate(zip(x, y)):
        Image.fromarray(image).save(folder / "images" / f"{i:04d}.png")
        Image.fromarray(mask).save(folder / "masks" / f"{i:04d}.png")
    if names:
        (folder / "classes.txt").write_text("\n".join(names) + "\n")
    return folder


def damage_weights(data: bytes, seed: int = 0) -> bytes:
    """The .tflite ``data`` with the weight tensor of its first weighted op replaced by random values of its type:
    a valid file that computes the wrong thing (what a broken conversion looks like)."""
    from qbench.tflite_file import TfliteModel, rewrite

    model = TfliteModel(data, "damaged")
    op = model.weighted_ops()[0]
    target = model.weights(op)[0].index

    def edit(m):
        buffer = m.buffers[m.subgraphs[0].tensors[target].buffer]
        buffer.data = np.random.default_rng(seed).integers(0, 256, len(buffer.data), dtype=np.uint8)

    return rewrite(data, edit)
