"""Studies that train and evaluate networks end to end, each behind a script of the repository.

* ``demo``        — ``make demo`` (``demo.py``): the built-in set, one training run, its evaluation;
* ``seed_study``  — the demo over several seeds, mean ± sd beside every baseline (``benchmarks/demo_seeds.py``);
* ``seed_run``    — one of its runs in a process of its own, for runs side by side (``--jobs``);
* ``recipe``      — ``DemoRecipe``: the data and training recipe of the demo and the seed study's runs;
* ``shipping``    — ``ship_model.py``: ship a seed study's model into ``models/`` only if it beats the baselines;
* ``ablation``    — ``benchmarks/ablation.py``: one network with and without each of its parts;
* ``tile_pooling`` — ``benchmarks/tile_pooling.py``: which pooling of tile scores ranks a folder best.
"""
