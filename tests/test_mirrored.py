"""distribute = "mirrored" without a GPU: the CPU split into two logical devices, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import REPO_ROOT

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[1])
    import keras
    from asna.core.config import load_config
    from asna.data import augment
    from asna.training.distributed import make_strategy
    from asna.training.loop import compile_model

    common = ["model.image_size=32", "model.nfs=[4, 4, 8, 8, 8, 8, 8, 4, 4, 8]", "model.dense_num=8",
              "training.batch_size=8", "training.seed=3", "loss.ranker=softrank", "loss.mse_factor=1.0",
              "loss.spearman_factor=0.0", "training.learning_rate=0.01"]
    config = load_config("configs/simple_synthetic.txt", common + [
        "training.distribute=mirrored", "data.intensity_augment=True", "data.intensity_probability=0.5"])
    plain = load_config("configs/simple_synthetic.txt", common + ["data.augment=False"])

    rng = np.random.default_rng(0)
    references = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    distorted = np.clip(references + rng.normal(0, 30, references.shape), 0, 255).astype(np.uint8)
    y = rng.standard_normal(16).astype(np.float32)

    keras.utils.set_random_seed(3)
    strategy = make_strategy("mirrored")
    with strategy.scope():
        model = compile_model(config, init_weights=False)
    start = [w.numpy() for w in model.weights]
    dataset = tf.data.Dataset.from_tensors(((references, distorted), y)).repeat()
    mirrored_losses = []
    for step in range(2):
        with strategy.scope():
            history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)
        mirrored_losses.append(history.history["loss"][0])
    replicas_identical = all(
        all(np.array_equal(v.numpy(), strategy.experimental_local_results(w)[0].numpy())
            for v in strategy.experimental_local_results(w)) for w in model.weights)

    # one device, the same global batch, each half augmented as its replica draws it
    single = compile_model(plain, init_weights=False)
    single.set_weights(start)
    single_losses = []
    settings = augment.AugmentSettings.from_config(config)
    for step in range(2):
        halves = []
        for replica in range(2):
            rows = slice(8 * replica, 8 * replica + 8)
            codes, factors = augment.draw(settings, step, replica, 8)
            halves.append(augment.augment_pairs(references[rows], distorted[rows], codes, factors))
        batch = tuple(np.concatenate([half[i].numpy() for half in halves]) for i in range(2))
        single_losses.append(float(single.train_on_batch(batch, y, return_dict=True)["loss"]))
    weight_gap = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(model.weights, single.weights))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "identical": replicas_identical,
                      "mirrored": mirrored_losses, "single": single_losses, "weight_gap": weight_gap,
                      "moved": float(max(np.abs(w.numpy() - s).max() for w, s in zip(model.weights, start)))}))
""")


def test_two_logical_cpus_train_in_step_with_one_device():
    import json

    result = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO_ROOT)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["replicas"] == 2
    assert outcome["identical"]
    assert outcome["moved"] > 1e-4  # the steps changed the weights
    for mirrored, single in zip(outcome["mirrored"], outcome["single"]):
        assert abs(mirrored - single) <= 1e-4 * max(1.0, abs(single)), outcome
    assert outcome["weight_gap"] < 1e-4, outcome
