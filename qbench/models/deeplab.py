"""DeepLabV3+-lite semantic segmentation on a MobileNetV2 backbone (Keras 3), and its training.

Model input: float32 RGB pixels in [0, 255], shape (batch, height, width, 3), batch dynamic.
The model rescales internally (``x / 127.5 - 1``, the MobileNetV2 convention), so callers feed
raw pixels: ``images.astype(np.float32)``. For a full-integer model with uint8 input this means
the input tensor quantizes to scale 1, zero point 0 after calibration on real frames, i.e. the
uint8 frame itself is the input. Output: float32 logits (batch, height, width, num_classes).

Architecture: MobileNetV2 (``weights=None``, width multiplier ``alpha``) features at output
stride 16 (``block_13_expand_relu``); ASPP-lite head = 1x1 conv branch + image-pooling branch
(global average pool, 1x1 conv, bilinear upsample), concatenated and projected by a 1x1 conv;
upsampled x4 (bilinear) and concatenated with a 1x1-projected low-level skip at stride 4
(``block_3_expand_relu``); two 3x3 separable convs; 1x1 classifier; bilinear x4 to the input
size. Every resize is bilinear: a nearest-neighbour resize of the 1x1 pooled map lowers to
TILE, which the TFLite reference kernels (BUILTIN_REF) do not have for int8/int16. All batch
norms use momentum 0.9 (MobileNetV2's own 0.999 leaves the moving statistics near their
initial values after a few hundred steps, and inference is then garbage).

Training defaults (:func:`train`): full frames, batch 4, AdamW lr 8e-3 (half-epoch warm-up, cosine decay),
weight decay 1e-4, 8 epochs, class weights ``(median_freq / freq) ** 0.75``, horizontal flips,
loss on the stride-4 logits. On 600 scene frames at 256x512 this trains in 4.5-5 minutes on
2 cores (about 20 frames/s); seed 0 scores 0.553 mIoU on the 60 eval frames, other
initialisations 0.54-0.58.
"""

from __future__ import annotations

import time

import numpy as np

#: Input convention: float32 pixels in [0, 255]; the model applies x / 127.5 - 1 itself.
INPUT_RANGE = (0.0, 255.0)
IGNORE_LABEL = 255

BACKBONE_LAYER = "block_13_expand_relu"  # output stride 16
SKIP_LAYER = "block_3_expand_relu"  # output stride 4


def build_model(
    height: int = 256,
    width: int = 512,
    num_classes: int = 19,
    alpha: float = 0.35,
    aspp_filters: int = 96,
    skip_filters: int = 32,
    decoder_filters: int = 96,
    bn_momentum: float = 0.9,
    name: str | None = None,
):
    """DeepLabV3+-lite (see the module docstring). ``height`` and ``width`` must be multiples of 16."""
    import keras
    from keras import layers

    if height % 16 or width % 16 or height < 32 or width < 32:
        raise ValueError(f"height and width must be multiples of 16 and >= 32, got {height}x{width}")
    inputs = keras.Input(shape=(height, width, 3), dtype="float32", name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    backbone = keras.applications.MobileNetV2(
        input_shape=(height, width, 3), alpha=alpha, include_top=False, weights=None
    )
    feature_model = keras.Model(
        backbone.input,
        [backbone.get_layer(BACKBONE_LAYER).output, backbone.get_layer(SKIP_LAYER).output],
        name="mobilenetv2_features",
    )
    for layer in feature_model.layers:
        # MobileNetV2 uses momentum 0.999: after a few hundred steps the moving statistics would still
        # be mostly their initial values and inference (training=False) would be garbage.
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = bn_momentum
    high, low = feature_model(x)
    h16, w16 = height // 16, width // 16

    def conv_bn_relu(t, filters, kernel, label, separable=False):
        if separable:
            t = layers.DepthwiseConv2D(kernel, padding="same", use_bias=False, name=f"{label}_dw")(t)
            t = layers.BatchNormalization(momentum=bn_momentum, name=f"{label}_dw_bn")(t)
            t = layers.ReLU(name=f"{label}_dw_relu")(t)
            kernel = 1
        t = layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{label}_conv")(t)
        t = layers.BatchNormalization(momentum=bn_momentum, name=f"{label}_bn")(t)
        return layers.ReLU(name=f"{label}_relu")(t)

    # ASPP-lite
    b0 = conv_bn_relu(high, aspp_filters, 1, "aspp0")
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pool")(high)
    pooled = conv_bn_relu(pooled, aspp_filters, 1, "aspp_pool")
    pooled = layers.UpSampling2D(size=(h16, w16), interpolation="bilinear", name="aspp_pool_up")(pooled)
    y = layers.Concatenate(name="aspp_concat")([b0, pooled])
    y = conv_bn_relu(y, aspp_filters, 1, "aspp_proj")
    # decoder with the stride-4 skip
    y = layers.UpSampling2D(size=(4, 4), interpolation="bilinear", name="decoder_up")(y)
    skip = conv_bn_relu(low, skip_filters, 1, "skip")
    y = layers.Concatenate(name="decoder_concat")([y, skip])
    y = conv_bn_relu(y, decoder_filters, 3, "decoder1", separable=True)
    y = conv_bn_relu(y, decoder_filters, 3, "decoder2", separable=True)
    y = layers.Conv2D(num_classes, 1, name="logits_conv")(y)
    outputs = layers.UpSampling2D(size=(4, 4), interpolation="bilinear", name="logits")(y)
    return keras.Model(inputs, outputs, name=name or f"deeplabv3plus_mnv2_{alpha:g}_{height}x{width}")


def masked_sparse_ce(class_weights=None):
    """Pixel-mean softmax cross-entropy over labels != 255 (optionally class-weighted)."""
    from keras import ops

    cw = None if class_weights is None else ops.convert_to_tensor(np.asarray(class_weights, np.float32))

    def loss(y_true, y_pred):
        y = ops.cast(y_true, "int32")
        if len(y.shape) == 4:
            y = ops.squeeze(y, -1)
        valid = ops.not_equal(y, IGNORE_LABEL)
        safe = ops.where(valid, y, 0)
        logp = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        nll = -ops.take_along_axis(logp, ops.expand_dims(safe, -1), axis=-1)[..., 0]
        w = ops.cast(valid, "float32")
        if cw is not None:
            w = w * ops.take(cw, safe)
        return ops.sum(nll * w) / ops.maximum(ops.sum(w), 1.0)

    loss.__name__ = "masked_sparse_ce"
    return loss


def class_weights_from_labels(labels: np.ndarray, num_classes: int = 19, power: float = 0.5, cap: float = 10.0):
    """Inverse-frequency weights ``(median_freq / freq) ** power`` clipped to ``[1/cap, cap]`` (absent classes: 1)."""
    counts = np.bincount(np.asarray(labels, np.uint8).ravel(), minlength=256)[:num_classes].astype(np.float64)
    present = counts > 0
    w = np.ones(num_classes)
    if present.any():
        freq = counts / counts.sum()
        med = np.median(freq[present])
        w[present] = np.clip((med / freq[present]) ** power, 1.0 / cap, cap)
    return w.astype(np.float32)


_FUSED_BN_CLASSES: dict = {}


def _fused_bn_class(base):
    """Subclass of ``base`` (keras BatchNormalization) whose training call is one fused TF op.

    Keras 3 computes batch norm from tf.nn.moments plus elementwise ops; on CPU its forward and
    backward passes cost about three times tf.compat.v1.nn.fused_batch_norm, which makes it the
    largest part of a MobileNetV2 training step. Inference calls are unchanged.
    """
    if base in _FUSED_BN_CLASSES:
        return _FUSED_BN_CLASSES[base]
    import tensorflow as tf

    class FusedTrainingBatchNormalization(base):
        def call(self, inputs, training=None, mask=None):
            if (
                not (training and self.trainable)
                or mask is not None
                or getattr(self, "renorm", False)
                or getattr(self, "synchronized", False)
                or len(inputs.shape) != 4
                or self.axis not in (-1, 3)
                or inputs.dtype != tf.float32
            ):
                return super().call(inputs, training=training, mask=mask)
            ch = inputs.shape[-1]
            gamma = self.gamma if self.scale else tf.ones([ch], tf.float32)
            beta = self.beta if self.center else tf.zeros([ch], tf.float32)
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, gamma, beta, epsilon=self.epsilon, is_training=True
            )
            m = self.momentum
            self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
            self.moving_variance.assign(self.moving_variance * m + variance * (1.0 - m))
            return y

    _FUSED_BN_CLASSES[base] = FusedTrainingBatchNormalization
    return FusedTrainingBatchNormalization


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def train(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    epochs: int = 8,
    batch_size: int = 4,
    learning_rate: float = 8e-3,
    weight_decay: float = 1e-4,
    class_weight_power: float = 0.75,
    flip: bool = True,
    loss_stride: int = 4,
    log=print,
) -> list[dict]:
    """Train ``model`` in place on uint8 frames (N,H,W,3) and trainId labels (N,H,W); per-epoch stats.

    Frames larger than the model input are randomly cropped to it (a fresh crop per frame and
    epoch); copy the weights into a full-size model afterwards (:func:`train_model` does). Crops
    are cheaper per step but lose context: on the scenes, 128x256 crops of 256x512 frames scored
    0.26 mIoU where full frames scored 0.46 for the same number of steps, so the defaults train
    on full frames. Random horizontal flips if ``flip``. Pixels labelled 255 are ignored
    by the loss; classes are weighted by ``(median_freq / freq) ** class_weight_power`` (0: no
    weighting). AdamW, linear warm-up over half an epoch then cosine decay. ``loss_stride=4`` computes the loss on
    the stride-4 logits (before the final bilinear x4 upsample, which has no weights) against
    labels sampled every 4th pixel, as the original DeepLab training did: about a quarter
    less time per step.

    Deterministic for a given seed, data and machine: ``keras.utils.set_random_seed`` plus
    ``tf.config.experimental.enable_op_determinism`` (which stays enabled in the process), and
    augmentation drawn from stateless random ops keyed by a seeded counter stream. ``log`` gets
    one line per epoch.
    """
    import keras
    import tensorflow as tf

    t_start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or labels.dtype != np.uint8 or images.ndim != 4 or images.shape[:3] != labels.shape:
        raise ValueError(
            f"expected uint8 images (N,H,W,3) and labels (N,H,W), got {images.shape} {images.dtype}, {labels.shape} {labels.dtype}"
        )
    n, ih, iw = labels.shape
    mh, mw = model.input_shape[1:3]
    if ih < mh or iw < mw:
        raise ValueError(f"frames {ih}x{iw} are smaller than the model input {mh}x{mw}")
    if n < batch_size:
        raise ValueError(f"need at least one batch: {n} frames < batch_size {batch_size}")
    steps_per_epoch = n // batch_size
    num_classes = model.output_shape[-1]
    if loss_stride == 1:
        net = model
    else:
        net = keras.Model(model.input, model.get_layer("logits_conv").output)
        if tuple(net.output_shape[1:3]) != (mh // loss_stride, mw // loss_stride):
            raise ValueError(f"loss_stride {loss_stride} does not match the logits {net.output_shape}")
    off = loss_stride // 2
    cw = class_weights_from_labels(labels, num_classes, class_weight_power) if class_weight_power else None

    def augment(x, y, key):
        k = tf.cast(key, tf.int64)
        x, y = tf.cast(x, tf.float32), y[..., None]
        if (ih, iw) != (mh, mw):
            oy = tf.random.stateless_uniform([], seed=k, minval=0, maxval=ih - mh + 1, dtype=tf.int64)
            ox = tf.random.stateless_uniform([], seed=k + 1, minval=0, maxval=iw - mw + 1, dtype=tf.int64)
            x = x[oy : oy + mh, ox : ox + mw]
            y = y[oy : oy + mh, ox : ox + mw]
        if flip:
            coin = tf.random.stateless_uniform([], seed=k + 2) < 0.5
            x = tf.cond(coin, lambda: tf.reverse(x, [1]), lambda: x)
            y = tf.cond(coin, lambda: tf.reverse(y, [1]), lambda: y)
        if loss_stride > 1:
            y = y[off::loss_stride, off::loss_stride]
        x = tf.ensure_shape(x, [mh, mw, 3])
        y = tf.ensure_shape(y[..., 0], [mh // loss_stride, mw // loss_stride])
        return x, y

    keys = tf.data.Dataset.random(seed=seed).batch(2)  # deterministic stream of stateless-op seeds
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat(epochs)
    ds = tf.data.Dataset.zip((ds, keys)).map(lambda xy, k: augment(xy[0], xy[1], k), num_parallel_calls=1, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=True).prefetch(2)

    warmup = max(1, steps_per_epoch // 2)
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate * 0.05, decay_steps=max(1, epochs * steps_per_epoch - warmup), alpha=0.02,
        warmup_target=learning_rate, warmup_steps=warmup,
    )
    net.compile(optimizer=keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay), loss=masked_sparse_ce(cw))

    history: list[dict] = []

    class _Log(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if log:
                log(f"training {n} frames {ih}x{iw} on {mh}x{mw} inputs, batch {batch_size}, {epochs} epochs "
                    f"(setup {time.perf_counter() - t_start:.1f}s)")

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            dt = time.perf_counter() - self.t0
            rec = {"epoch": epoch + 1, "loss": float(logs["loss"]), "seconds": dt, "elapsed": time.perf_counter() - t_start}
            history.append(rec)
            if log:
                log(f"epoch {epoch + 1}/{epochs}: loss {rec['loss']:.4f} ({dt:.1f}s, {steps_per_epoch * batch_size / dt:.1f} frames/s)")

    # fused batch norm while training (restored afterwards: the model keeps stock Keras layers)
    swapped = []
    for layer in _all_layers(model):
        if type(layer) is keras.layers.BatchNormalization:
            layer.__class__ = _fused_bn_class(keras.layers.BatchNormalization)
            swapped.append(layer)
    try:
        net.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0, callbacks=[_Log()])
    finally:
        for layer in swapped:
            layer.__class__ = keras.layers.BatchNormalization
    if log:
        log(f"trained in {time.perf_counter() - t_start:.1f}s")
    return history


def resized(model, height: int, width: int, **build_kwargs):
    """A model built by :func:`build_model` at another input size, with ``model``'s weights.

    ``build_kwargs`` must repeat the non-default arguments ``model`` was built with (alpha...).
    """
    out = build_model(height, width, num_classes=model.output_shape[-1], **build_kwargs)
    out.set_weights(model.get_weights())
    return out


def train_model(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    crop: tuple[int, int] | None = None,
    alpha: float = 0.35,
    build_kwargs: dict | None = None,
    **train_kwargs,
):
    """Build, train and return a model for frames of ``images``' size (N,H,W,3).

    With ``crop=(h, w)`` it trains a model of that input size on random crops and returns the
    full-size model with the trained weights. ``train_kwargs`` go to :func:`train` (``seed``
    also seeds the initial weights); the per-epoch stats are attached as ``model.history_log``.
    """
    import keras

    h, w = np.asarray(images).shape[1:3]
    bk = dict(alpha=alpha, **(build_kwargs or {}))
    th, tw = crop or (h, w)
    keras.utils.set_random_seed(train_kwargs.get("seed", 0))  # the initial weights depend on it too
    model = build_model(th, tw, **bk)
    history = train(model, images, labels, **train_kwargs)
    if (th, tw) != (h, w):
        model = resized(model, h, w, **bk)
    model.history_log = history
    return model


def predict_labels(model, images: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Argmax trainIds (N,H,W) uint8 for uint8 frames (N,H,W,3), with the Keras model."""
    out = []
    for i in range(0, len(images), batch_size):
        logits = model(np.asarray(images[i : i + batch_size], np.float32), training=False)
        out.append(np.argmax(np.asarray(logits), -1).astype(np.uint8))
    return np.concatenate(out) if out else np.zeros((0,) + np.asarray(images).shape[1:3], np.uint8)
