"""What a demo run builds and trains: the options ``demo.py`` and ``benchmarks/demo_seeds.py`` share.

The data and training recipe is one frozen value (:class:`DemoRecipe`), made
once from those options and handed to the demo, the seed study, each of its
runs and, as plain JSON, a run in a process of its own.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``demo.py`` and ``benchmarks/demo_seeds.py`` share: data, config, sizes, overrides."""
    parser.add_argument("--data-dir", default="data/synthetic", help="where the built-in set is made or reused")
    parser.add_argument("--config", default="configs/attention_synthetic.txt", help="training config")
    parser.add_argument("--image-size", type=int, default=64, help="image side for data and network")
    parser.add_argument("--crops-per-image", type=int, default=4,
                        help="reference crops per validation/test photograph")
    parser.add_argument("--train-crops-per-image", type=int, default=None,
                        help="reference crops per training photograph (default: 4 x --crops-per-image)")
    parser.add_argument("--procedural", type=int, default=0, metavar="N",
                        help="add N procedural images (dead leaves, textured leaves) to the training photographs; "
                             "validation and test stay photographs only (docs/data.md#procedural-training-images); "
                             "default 0")
    parser.add_argument("--live-dev", default=None, metavar="DIR",
                        help="the human-rated development folder (Ref/, Dis/, labels.txt); 'none' skips it "
                             "(default: $ASNA_LIVE_DEV, else ../shared/real/live_dev when it is there)")
    parser.add_argument("--content-labels", type=float, default=0.0, metavar="W",
                        help="train and choose the epoch on labels that vary with content: each condition's "
                             "mean plus W x HaarPSI's within-condition deviation (docs/data.md#content-aware-labels); "
                             "copies of train and val made once beside them; 0 (default): KADID's means")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a training config value (repeatable)")


@dataclass(frozen=True)
class DemoRecipe:
    """The data and training recipe a demo run and every run of a seed study share.

    One value instead of eight parameters passed through the demo, the study,
    its runs and a child run's JSON spec (``dataclasses.asdict`` there, every
    field plain JSON). What differs between runs stays outside: the output
    folder, the data set's seed and the config overrides (``--set``, then each
    run's precision and training seed).
    """

    data_dir: str  # where the built-in set is made or reused (asna.studies.demo.build_data)
    config_path: str  # the training config
    image_size: int  # image side for data and network
    crops_per_image: int  # reference crops per validation/test photograph
    train_crops_per_image: int | None = None  # per training photograph; None: 4 x crops_per_image
    procedural: int = 0  # procedural training images (asna.data.procedural)
    live_dev: str | None = None  # the --live-dev option (asna.data.human_rated.live_dev_folder)
    content_weight: float = 0.0  # --content-labels (asna.studies.demo.training_files); 0: KADID's means

    @classmethod
    def from_arguments(cls, arguments: argparse.Namespace) -> DemoRecipe:
        """The recipe of :func:`add_demo_arguments`' parsed options: both scripts' one mapping to fields."""
        return cls(data_dir=arguments.data_dir, config_path=arguments.config, image_size=arguments.image_size,
                   crops_per_image=arguments.crops_per_image,
                   train_crops_per_image=arguments.train_crops_per_image, procedural=arguments.procedural,
                   live_dev=arguments.live_dev, content_weight=arguments.content_labels)
