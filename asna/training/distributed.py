"""Training on several GPUs or machines: strategies, input shards, the chief.

``distribute = mirrored`` uses every GPU of one machine, ``multiworker`` every
process listed in ``TF_CONFIG``. The input pipeline shards itself by worker,
so tf.distribute's own auto-sharding is switched off.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from asna.core.errors import UserError


def make_strategy(distribute: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy the config asks for.

    ``mirrored`` takes every GPU; on a machine without one, every logical CPU
    device (one unless ``tf.config.set_logical_device_configuration`` split the
    CPU, as the tests do to check replicas without a GPU).
    """
    if distribute == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if distribute == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("training.distribute = multiworker needs the TF_CONFIG environment "
                            "variable that describes the cluster (see docs/configs-and-training.md)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _cluster_task() -> tuple[dict, dict]:
    description = json.loads(os.environ.get("TF_CONFIG", "{}"))
    return description.get("cluster", {}), description.get("task", {})


def task_index() -> int:
    """This process's index in a multi-worker cluster (0 when alone)."""
    return int(_cluster_task()[1].get("index", 0))


def is_chief() -> bool:
    """Whether this process writes the real run folder (the others write beside it).

    The chief is the ``chief`` task if the cluster has one, else worker 0, as
    tf.distribute defines it.
    """
    cluster, task = _cluster_task()
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def worker_input_context(strategy: tf.distribute.Strategy) -> tf.distribute.InputContext:
    """Which shard of the input this process reads: one per worker of a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return tf.distribute.InputContext(1, 0, strategy.num_replicas_in_sync)
    cluster = resolver.cluster_spec().as_dict()
    tasks = [(kind, index) for kind in ("chief", "worker") for index in range(len(cluster.get(kind, [])))]
    position = tasks.index((resolver.task_type, resolver.task_id))
    return tf.distribute.InputContext(len(tasks), position, strategy.num_replicas_in_sync)


def without_auto_sharding(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The pipeline shards by itself; stop tf.distribute from sharding again."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options)


KERAS_TESTED = "3.15"  # the minor version whose private names the patch below uses (requirements.txt pins it)
PRIVATE_NAMES = ("reduce_per_replica", "_collective_all_reduce_multi_worker")


def check_keras_internals(model: keras.Model):
    """The Keras trainer module the multi-worker patch changes; one clear error if a name is gone.

    The patch relies on private Keras names; an upgrade that removes one must
    fail here, naming it, not later inside ``fit`` with an unrelated traceback.
    """
    try:
        from keras.src.backend.tensorflow import trainer as tensorflow_trainer
    except ImportError as error:
        raise RuntimeError(f"Keras {keras.__version__}: the multi-worker patch needs "
                           f"keras.src.backend.tensorflow.trainer ({error}); it was written for "
                           f"Keras {KERAS_TESTED}") from None
    missing = [name for name in PRIVATE_NAMES if not hasattr(tensorflow_trainer, name)]
    if not hasattr(model, "_distribute_strategy"):
        missing.append("Model._distribute_strategy")
    if missing:
        raise RuntimeError(f"Keras {keras.__version__}: the multi-worker patch needs the private "
                           f"attribute(s) {', '.join(missing)} of keras.src.backend.tensorflow.trainer, "
                           f"which this version lacks; it was written for Keras {KERAS_TESTED}")
    return tensorflow_trainer


def patch_keras_for_multi_worker(model: keras.Model) -> None:
    """Work around two Keras 3.15 failures under MultiWorkerMirroredStrategy.

    1. ``fit`` first averages one input batch across workers
       (``Trainer._maybe_symbolic_build``), which fails for nested batches; with
       the model's captured strategy cleared, it builds when the train step is
       traced instead (``fit`` must then run inside ``strategy.scope()``).
    2. Scalar step outputs (loss, metrics) are averaged with ``axis=0``, which
       fails for scalars; they are averaged over replicas with ``axis=None``.
    """
    from keras.src import tree

    tensorflow_trainer = check_keras_internals(model)
    model._distribute_strategy = None
    original = tensorflow_trainer.reduce_per_replica
    if getattr(original, "patched_by_asna", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tensorflow_trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.patched_by_asna = True
    tensorflow_trainer.reduce_per_replica = reduce_per_replica
