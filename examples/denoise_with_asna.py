"""Train a tiny denoiser with ASNA as its loss, and check what the loss did.

The denoiser is a small residual CNN (its last convolution starts at zero, so
before training it returns the noisy input unchanged). It trains on crops of
the built-in set's training photographs (scikit-image's bundled photographs,
no download) with fresh Gaussian noise every step, under

    loss = perceptual_weight * asna.PerceptualLoss(models) + pixel_weight * MSE

and is then checked on crops of the test photographs (chelsea, coffee, clock,
gravel), which it never saw, with fixed noise: the perceptual loss, the ASNA
score of the output (``asna.load_metric``, the uint8 scoring path, higher is
better), and PSNR, SSIM and HaarPSI (the project's baselines, which the loss
never saw), against the noisy input. ``--pixel-weight 0`` trains on the
perceptual loss alone, ``--perceptual-weight 0`` on MSE alone.

Example (the figures in docs/api.md):
    python examples/denoise_with_asna.py --models runs/demo/model.keras --steps 300
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from asna.core.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow

import numpy as np  # noqa: E402

from asna.core.errors import run_cli  # noqa: E402
import asna  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", metavar="PATH", default=None,
                        help="trained ASNA model(s) for the loss and the check (default: the shipped model)")
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--batch-size", type=int, default=8, help="crops per step (default 8)")
    parser.add_argument("--crop", type=int, default=64,
                        help="crop side in pixels, at least the model's input (default 64)")
    parser.add_argument("--sigma", type=float, default=25.0, help="noise std in grey levels (default 25)")
    parser.add_argument("--perceptual-weight", type=float, default=1.0,
                        help="weight of the ASNA term (default 1; 0 = MSE only, for comparison)")
    parser.add_argument("--pixel-weight", type=float, default=30.0,
                        help="weight of the MSE term (images in [0, 1]; default 30, 0 = perceptual only)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    parser.add_argument("--filters", type=int, default=32, help="filters per denoiser layer (default 32)")
    parser.add_argument("--test-crops", type=int, default=4, help="check crops per test photograph (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the crops, the noise and the weights")
    parser.add_argument("--json", metavar="OUT.json", help="also write the figures as JSON")
    return parser.parse_args()


def crops(photographs, count: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random ``side`` x ``side`` crops per photograph, float32 in [0, 1]."""
    cut = []
    for photo in photographs:
        height, width = photo.image.shape[:2]
        for _ in range(count):
            top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
            cut.append(photo.image[top:top + side, left:left + side])
    return np.stack(cut).astype(np.float32) / 255.0


def add_noise(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(clean + rng.normal(0.0, sigma / 255.0, clean.shape), 0.0, 1.0).astype(np.float32)


def build_denoiser(filters: int):
    """Three 3x3 ReLU convolutions and a zero-initialised 3x3 residual: the identity at the start."""
    import keras

    noisy = keras.Input((None, None, 3), name="noisy")
    x = noisy
    for index in range(3):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{index + 1}")(x)
    residual = keras.layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros", name="residual")(x)
    return keras.Model(noisy, keras.layers.Add(name="denoised")([noisy, residual]), name="denoiser")


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def main() -> int:
    args = parse_arguments()
    import keras

    from asna.core.paths import atomic_write
    from asna.data.synthetic import TEST_PHOTOGRAPHS, load_photographs, split_of
    from asna.evaluation.classic import classic_scores

    started = time.monotonic()
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    photographs, _ = load_photographs(args.crop)
    train_photos = [photo for photo in photographs if split_of(photo.name) == "train"]
    test_photos = [photo for photo in photographs if photo.name in TEST_PHOTOGRAPHS]
    pool = crops(train_photos, 32, args.crop, rng)
    test_clean = crops(test_photos, args.test_crops, args.crop, rng)
    test_noisy = add_noise(test_clean, args.sigma, rng)

    perceptual = asna.PerceptualLoss(models=args.models)
    metric = asna.load_metric(models=perceptual.model_paths, tta="none")
    mse = keras.losses.MeanSquaredError()

    def loss(clean, restored):
        return args.perceptual_weight * perceptual(clean, restored) + args.pixel_weight * mse(clean, restored)

    def batches():
        while True:
            clean = pool[rng.integers(0, len(pool), args.batch_size)]
            yield add_noise(clean, args.sigma, rng), clean

    denoiser = build_denoiser(args.filters)
    denoiser.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=loss)

    def check(images: np.ndarray) -> dict[str, float]:
        """The loss, the metric's score and three of the project's baselines, as means over the crops."""
        restored, clean = to_uint8(images), to_uint8(test_clean)
        baselines = classic_scores(clean, restored)
        return {"perceptual_loss": float(perceptual(test_clean, images)),
                "asna_score": float(np.mean(metric.score(clean, restored))),
                **{name: float(np.mean(baselines[name])) for name in ("psnr", "ssim", "haarpsi")}}

    ceiling = float(np.mean(metric.score(test_clean, test_clean)))  # the reference scored against itself
    before = check(test_noisy)
    curve: list[float] = []  # the test crops' perceptual loss after each tenth of training

    def record(epoch: int, logs: dict | None = None) -> None:
        curve.append(round(float(perceptual(test_clean, denoiser(test_noisy, training=False))), 4))

    chunks = 10 if args.steps >= 10 else 1
    denoiser.fit(batches(), steps_per_epoch=args.steps // chunks, epochs=chunks, verbose=0, shuffle=False,
                 callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=record)])
    after = check(denoiser.predict(test_noisy, batch_size=args.batch_size, verbose=0))

    print(f"model(s): {', '.join(perceptual.model_paths)}; {len(test_clean)} test crops of "
          f"{', '.join(photo.name for photo in test_photos)}, {args.crop} px, noise sigma {args.sigma:g}")
    print(f"trained {args.steps // chunks * chunks} steps of {args.batch_size} crops, weights: perceptual "
          f"{args.perceptual_weight:g}, pixel {args.pixel_weight:g}; test perceptual loss after each tenth: {curve}")
    print(f"{'':18}{'perceptual loss':>16}{'ASNA score':>12}{'PSNR (dB)':>11}{'SSIM':>8}{'HaarPSI':>9}")
    for name, figures in (("noisy input", before), ("denoised", after)):
        print(f"{name:18}{figures['perceptual_loss']:16.4f}{figures['asna_score']:12.4f}{figures['psnr']:11.2f}"
              f"{figures['ssim']:8.4f}{figures['haarpsi']:9.4f}")
    print(f"{'reference itself':18}{'':16}{ceiling:12.4f}")
    print(f"finished in {time.monotonic() - started:.0f} s")
    if args.json:
        record = {"arguments": vars(args), "models": perceptual.model_paths, "before": before, "after": after,
                  "reference_score": ceiling,
                  "training_perceptual_loss": curve}
        atomic_write(args.json, lambda path: path.write_text(json.dumps(record, indent=2) + "\n"))
    return 0


if __name__ == "__main__":
    run_cli(main)
