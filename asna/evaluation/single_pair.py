"""Scoring one pair of image files: what ``evaluation_single_image.py`` and ``asna-score`` run.

Every check (the model files, the image files, their sizes) runs before TensorFlow loads.
"""

from __future__ import annotations

from typing import Sequence

from asna.core.paths import refuse_overlaps
from asna.evaluation import DEFAULT_POOL
from asna.evaluation.scorer import (QualityScorer, check_pair_sizes, check_sources, cut_tiles, inspect_models,
                                    resolve_fit)


def run_single_image(ref_path: str, dist_path: str, model_paths: Sequence[str] | None, tta: str,
                     fit: str, scale_source: str | None, figure: str | None, pool: str = DEFAULT_POOL,
                     map_path: str | None = None) -> float:
    """Everything ``evaluation_single_image.py`` does; prints and returns the score.

    ``map_path``: also draw the pair's quality map there (:mod:`asna.evaluation.quality_map`).
    """
    from asna.data.images import read_rgb
    from asna.evaluation import report, tta as augmentation
    from asna.evaluation.folders import model_files

    if figure:
        report.check_figure_path(figure, "--figure")
    if map_path:
        report.check_figure_path(map_path, "--map")
    infos = inspect_models(model_paths)
    refuse_overlaps([("--figure", figure), ("--map", map_path)],
                    [("--ref", ref_path), ("--distorted", dist_path), *model_files(infos)])
    check_sources(infos, [scale_source])
    reference, distorted = read_rgb(ref_path), read_rgb(dist_path)
    check_pair_sizes(reference, distorted, dist_path, ref_path)
    fit = resolve_fit(fit, infos)
    cut_tiles(distorted, infos[0].image_size, fit, dist_path)  # refuse small images before loading
    scorer = QualityScorer.load(infos)
    if map_path:
        from asna.evaluation.map_figure import save_map_figure
        from asna.evaluation.quality_map import quality_map

        drawn = quality_map(scorer, reference, distorted, tta, scale_source, fit, pool, dist_path)
        score = drawn.score
    else:
        score = float(scorer.score_pairs([reference], [distorted], tta, scale_source, fit, [dist_path], pool)[0])
    print(f"Image Quality Score: {score:.4f} ({augmentation.describe(tta)})")
    if map_path:
        print(f"map: {save_map_figure(map_path, distorted, drawn.values, score, dist_path)}")
    if figure:
        print(f"figure: {report.save_pair_figure(figure, reference, distorted, score, (ref_path, dist_path))}")
    return score
