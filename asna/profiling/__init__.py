"""Speed measurement: the code behind the timing scripts of ``benchmarks/`` (docs/benchmarks.md).

* ``throughput``        — training and scoring throughput (pairs per second) of one network;
* ``speed_comparison``  — before / now / now without each faster path, alternating in one sitting;
* ``flops``             — FLOPs per pair from the built network, and the machine's matmul peak;
* ``op_profile``        — where a step's time goes, op by op;
* ``batch_norm_timing`` — BatchNorm's bfloat16 training pass, three ways.
* ``single_pair``       — seconds and peak memory of scoring one large pair, a fresh process a case.
"""
