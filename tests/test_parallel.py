"""The protocol's outer folds in worker processes: the same numbers as one after another.

Small settings (3 folds, 2 epochs, 24 songs of 6 s) so that the cost is the workers'
start-up (importing Keras and its backend), not the training.
"""

import joblib
import numpy as np
import pytest

from semgru_keras.data import load_dataset
from semgru_keras.evaluation import EvaluationConfig, cross_validate
from semgru_keras.handcrafted import HANDCRAFTED_KEY, handcrafted_features, stack_features
from semgru_keras.parallel import on_cluster, resolve_jobs

pytestmark = pytest.mark.slow

CONFIG = EvaluationConfig.quick(epochs=2, n_boot=50, feature_groups=("timbre",))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    ds = load_dataset("synthetic-quadrants", n_songs=24, duration=6.0, seed=3)
    sequences = list(ds.sequences(cache_dir=cache, progress=False))
    handcrafted = stack_features(ds.map_audio(handcrafted_features, HANDCRAFTED_KEY, cache_dir=cache, progress=False))
    return ds, sequences, handcrafted


def _run(small, **kwargs):
    ds, sequences, handcrafted = small
    return cross_validate(sequences, ds.labels, handcrafted=handcrafted, config=CONFIG, task="classification",
                          classes=ds.classes, groups=ds.groups, ids=ds.ids, progress=False, **kwargs)


@pytest.fixture(scope="module")
def sequential(small):
    return _run(small, n_jobs=1)


def _assert_same(a, b):
    assert a.systems == b.systems
    np.testing.assert_array_equal(a.folds, b.folds)
    for system in a.systems:
        np.testing.assert_array_equal(a.predictions[system], b.predictions[system], err_msg=system)
        assert a.best_params[system] == b.best_params[system]
        for ta, tb in zip(a.train_indices[system], b.train_indices[system]):
            np.testing.assert_array_equal(ta, tb)
    np.testing.assert_array_equal(a.embedding, b.embedding)  # the learned features, to the last bit


def test_parallel_folds_give_the_sequential_results(small, sequential):
    parallel = _run(small, n_jobs=2)
    _assert_same(sequential, parallel)
    # per-stage wall times are recorded per system and fold
    assert set(parallel.stage_seconds["semgru"]) == {"train", "embed", "svm"}
    assert set(parallel.stage_seconds["standard_gru"]) == {"train", "predict"}
    assert all(len(v) == 3 and min(v) > 0 for v in parallel.stage_seconds["semgru"].values())


def test_folds_on_a_dask_cluster_give_the_sequential_results(small, sequential):
    distributed = pytest.importorskip("dask.distributed")

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        # what evaluate(..., scheduler=ADDRESS) and the runner's --dask-scheduler do
        with on_cluster(cluster.scheduler_address) as client, distributed.get_task_stream(client) as stream:
            on_dask = _run(small, n_jobs=2)
            workers = client.run(lambda: __import__("os").getpid())
    assert len(workers) == 2
    assert len({task["worker"] for task in stream.data}) == 2  # the folds ran on the cluster's two workers
    _assert_same(sequential, on_dask)


def test_resolve_jobs_follows_joblib():
    assert resolve_jobs(1, 10) == 1
    assert resolve_jobs(4, 3) == min(3, joblib.cpu_count())  # never more workers than folds or cores
    assert resolve_jobs(None, 10) == 1
    assert 1 <= resolve_jobs(-1, 10) <= 10
