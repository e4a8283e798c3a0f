"""theory.sweep: the same table whatever runs it (serial, process pool, Dask), resumable, refusing mixed files."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from scipy import linalg as sla

from theory import cli
from theory import sweep as sw
from theory.errors import DomainError
from theory.rng import derive
from theory.simulators.batch_hessian import simulate_batch_hessian_top, simulate_least_squares_batch_top
from theory.stats import Estimate, Moments
from theory.sweep import SweepConfigError, SweepTable, grid_points, process_pool, sweep, task_key

# a real simulator of the package; a partial of a module-level function pickles (by reference) everywhere
FUNC = functools.partial(simulate_batch_hessian_top, [3.0], n_params=40, noise_scale=1.0, n_matrices=12)
GRID = {"batch_size": [2, 4, 8], "n_data": [100, 1000]}
CHECK = "stability.expected_loss_change"  # a quick check whose simulator takes the executor


@pytest.fixture(scope="module")
def serial():
    return sweep(FUNC, GRID, seed=7, progress=False)


def _flaky(batch_size, n_data, *, marker, seed):
    """FUNC, except that the task batch_size=4, n_data=1000 fails the first time (an interruption)."""
    if batch_size == 4 and n_data == 1000 and not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("interrupted")
    return FUNC(batch_size=batch_size, n_data=n_data, seed=seed)


def _mixed(x, *, seed):
    g = np.random.Generator(np.random.PCG64(seed))
    draws = g.standard_normal(50) + x
    return {"mean": Moments.of(draws).estimate(), "count": np.int64(draws.size), "first": draws[0]}


# ----------------------------------------------------------------------------- grid, keys, seeds

def test_grid_points_and_keys():
    assert grid_points({"a": [1, 2], "b": ["x", "y"]}) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"},
                                                            {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert grid_points([{"a": 1}, {"a": 2, "b": 3}]) == [{"a": 1}, {"a": 2, "b": 3}]
    assert grid_points({}) == []
    with pytest.raises(TypeError, match=r"\[3\]"):
        grid_points({"a": 3})
    assert task_key({"b": 2, "a": [0.5, 1]}) == '{"a":[0.5,1],"b":2}'
    assert task_key({"a": np.float64(0.5), "b": np.arange(2)}) == task_key({"b": [0, 1], "a": 0.5})
    assert task_key({"a": 1}) != task_key({"a": 1.0})
    with pytest.raises(TypeError, match="key="):
        task_key({"a": object()})
    with pytest.raises(DomainError, match="same key"):
        sweep(FUNC, [{"batch_size": 2, "n_data": 10}, {"n_data": 10, "batch_size": 2}], progress=False)
    with pytest.raises(DomainError, match="reserved"):
        sweep(FUNC, {"seed": [1]}, progress=False)


def test_each_task_gets_the_seed_of_its_parameters(serial):
    assert isinstance(serial, SweepTable) and serial.resumed == 0
    assert serial.params == ("batch_size", "n_data") and serial.values == ("estimate", "stderr")
    rec = serial.to_records()
    assert [(r["batch_size"], r["n_data"]) for r in rec] == [(b, n) for b in (2, 4, 8) for n in (100, 1000)]
    direct = FUNC(batch_size=4, n_data=100, seed=derive(7, "sweep", task_key({"batch_size": 4, "n_data": 100})))
    assert rec[2]["estimate"] == float(direct.value) and rec[2]["stderr"] == float(direct.stderr)
    # another order, or a part of the grid: the same numbers for the same parameters
    backwards = sweep(FUNC, grid_points(GRID)[::-1], seed=7, progress=False)
    assert backwards.to_records()[::-1] == [{**r, "seconds": b["seconds"]} for r, b in
                                            zip(rec, backwards.to_records()[::-1])]
    part = sweep(FUNC, {"batch_size": [8], "n_data": [1000]}, seed=7, progress=False)
    assert part.rows[0]["estimate"] == rec[-1]["estimate"]
    assert sweep(FUNC, GRID, seed=8, progress=False).rows[0]["estimate"] != rec[0]["estimate"]


def test_result_shapes():
    t = sweep(_mixed, {"x": [0.0, 1.0]}, seed=1, progress=False)
    assert t.values == ("mean", "mean_stderr", "count", "first")
    assert t.columns["count"] == [50, 50] and isinstance(t.rows[0]["count"], int)
    assert sweep(lambda x, seed: x * 2.0, {"x": [1.5]}, progress=False).columns["estimate"] == [3.0]
    with pytest.raises(TypeError, match="scalar"):
        sweep(lambda x, seed: np.ones(3), {"x": [1]}, progress=False)
    with pytest.raises(TypeError, match="scalar"):
        sweep(lambda x, seed: Estimate(np.ones(2), np.ones(2), 5), {"x": [1]}, progress=False)


def test_table_views(serial, tmp_path):
    cols = serial.columns
    assert list(cols) == ["batch_size", "n_data", "estimate", "stderr", "seconds"]
    assert len(serial) == 6 and all(len(v) == 6 for v in cols.values())
    assert serial.column("estimate").dtype == np.float64
    text = serial.to_csv(tmp_path / "t.csv")
    back = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert text == (tmp_path / "t.csv").read_text()
    assert [float(r["estimate"]) for r in back] == cols["estimate"]  # exact: floats written as repr
    assert "batch_size" in repr(serial)
    pd = pytest.importorskip("pandas")
    df = serial.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df["estimate"]) == cols["estimate"]


# ----------------------------------------------------------------------------- executors

def test_process_pool_gives_the_serial_table(serial):
    with process_pool(2) as ex:
        pooled = sweep(FUNC, GRID, seed=7, executor=ex, progress=False)
    assert pooled.same_results(serial)
    assert sweep(FUNC, GRID, seed=7, workers=2, progress=False).same_results(serial)
    assert sweep(FUNC, GRID, seed=7, workers=1, progress=False).same_results(serial)
    with pytest.raises(ValueError, match="at most one"):
        sweep(FUNC, GRID, executor=ThreadPoolExecutor(1), workers=2, progress=False)
    with pytest.raises(DomainError, match="workers"):
        sweep(FUNC, GRID, workers=0, progress=False)


class _Counting(Executor):
    def __init__(self):
        self.inner, self.submitted = ThreadPoolExecutor(2), 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, **kw):
        self.inner.shutdown(wait)


def test_use_executor_reaches_sweeps_and_default_executor(serial):
    ex = _Counting()
    with sw.use_executor(ex):
        assert sw.current_executor() is ex
        assert sweep(FUNC, GRID, seed=7, progress=False).same_results(serial)
        with sw.default_executor(quick=True) as got:
            assert got is ex
        with sw.use_executor(None), sw.default_executor(quick=False) as got:
            assert got is None  # an explicit serial run (--workers 1)
    ex.shutdown()
    assert ex.submitted == 6 and sw.current_executor("unset") == "unset"
    with sw.default_executor(quick=True) as got:
        assert got is None
    with sw.default_executor(quick=False, workers=1) as got:
        assert got is None


def test_progress_bar(capsys):
    sweep(FUNC, {"batch_size": [2, 4], "n_data": [100]}, seed=7)
    err = capsys.readouterr().err
    assert "2/2" in err and "batch_size=4, n_data=100" in err  # the count and the last point's label


# ----------------------------------------------------------------------------- results file, resuming

@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_interrupted_sweep_resumes_to_the_same_table(serial, tmp_path, suffix):
    path = tmp_path / f"rows.{suffix}"
    func = functools.partial(_flaky, marker=tmp_path / "marker")
    with pytest.raises(RuntimeError, match="interrupted"):
        sweep(func, GRID, seed=7, results=path, progress=False)
    lines = path.read_text().splitlines()
    assert len(lines) == (1 if suffix == "jsonl" else 2) + 3  # header(s) + the rows done before the failure
    again = sweep(func, GRID, seed=7, results=path, progress=False)
    assert again.resumed == 3 and again.same_results(serial)
    # a third run computes nothing (a function that would fail proves it), and a larger grid reuses the rows
    assert sweep(functools.partial(_flaky, marker=tmp_path / "marker"), GRID, seed=7, results=path,
                 progress=False).resumed == 6
    bigger = sweep(func, {**GRID, "batch_size": [2, 4, 8, 16]}, seed=7, results=path, progress=False)
    assert bigger.resumed == 6 and bigger.to_records()[:6] == [
        {**r, "seconds": b["seconds"]} for r, b in zip(serial.to_records(), bigger.to_records())]


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_resumed_table_keeps_the_column_order_of_the_run_that_wrote_it(tmp_path, suffix):
    # _mixed's columns (mean, mean_stderr, count, first) are not in sorted order; the JSON-lines object's keys are
    path = tmp_path / f"rows.{suffix}"
    first = sweep(_mixed, {"x": [0.0, 1.0]}, seed=3, results=path, progress=False)
    again = sweep(_mixed, {"x": [0.0, 1.0]}, seed=3, results=path, progress=False)
    assert again.resumed == 2 and first.values == again.values == ("mean", "mean_stderr", "count", "first")
    assert again.same_results(first) and again.to_records() == first.to_records()


def test_jsonl_rows_without_their_column_order_still_load(tmp_path):
    path = tmp_path / "rows.jsonl"
    first = sweep(_mixed, {"x": [0.0]}, seed=3, results=path, progress=False)
    head, row = path.read_text().splitlines()
    rec = json.loads(row)
    del rec["columns"]  # a file written before the order was recorded
    path.write_text(head + "\n" + json.dumps(rec) + "\n")
    again = sweep(_mixed, {"x": [0.0]}, seed=3, results=path, progress=False)
    assert again.resumed == 1 and sorted(again.values) == sorted(first.values)
    assert all(again.rows[0][n] == first.rows[0][n] for n in first.values)


def test_interrupted_parallel_sweep_resumes(serial, tmp_path):
    path = tmp_path / "rows.jsonl"
    func = functools.partial(_flaky, marker=tmp_path / "marker")
    with pytest.raises(RuntimeError, match="interrupted"):
        sweep(func, GRID, seed=7, results=path, workers=2, progress=False)
    done = len(path.read_text().splitlines()) - 1
    assert 1 <= done <= 5
    again = sweep(func, GRID, seed=7, results=path, workers=2, progress=False)
    assert again.resumed == done and again.same_results(serial)


def test_partial_last_line_is_dropped(serial, tmp_path):
    path = tmp_path / "rows.jsonl"
    sweep(FUNC, {"batch_size": [2], "n_data": [100, 1000]}, seed=7, results=path, progress=False)
    with open(path, "a") as fh:
        fh.write('{"key": "{\\"batch_size\\":4,')  # killed in the middle of a write
    table = sweep(FUNC, GRID, seed=7, results=path, progress=False)
    assert table.resumed == 2 and table.same_results(serial)
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_mismatched_results_file_is_refused(tmp_path):
    path = tmp_path / "rows.jsonl"
    sweep(FUNC, {"batch_size": [2], "n_data": [100]}, seed=7, results=path, progress=False)
    with pytest.raises(SweepConfigError, match="seed"):
        sweep(FUNC, {"batch_size": [2], "n_data": [100]}, seed=8, results=path, progress=False)
    other = functools.partial(simulate_least_squares_batch_top, n_params=5, n_matrices=4)
    with pytest.raises(SweepConfigError, match="simulate_least_squares_batch_top"):
        sweep(other, {"batch_size": [2], "n_data": [100]}, seed=7, results=path, progress=False)
    with pytest.raises(SweepConfigError, match="func"):  # fixed arguments are part of the function
        sweep(functools.partial(FUNC, n_matrices=13), {"batch_size": [2], "n_data": [100]}, seed=7,
              results=path, progress=False)
    stranger = tmp_path / "other.csv"
    stranger.write_text("a,b\n1,2\n")
    with pytest.raises(SweepConfigError, match="not a sweep results file"):
        sweep(FUNC, {"batch_size": [2], "n_data": [100]}, results=stranger, progress=False)
    with pytest.raises(DomainError, match=".jsonl or .csv"):
        sweep(FUNC, {"batch_size": [2], "n_data": [100]}, results=tmp_path / "rows.txt", progress=False)
    # seed=None adopts the file's seed
    assert sweep(FUNC, {"batch_size": [2], "n_data": [100]}, seed=None, results=path,
                 progress=False).resumed == 1


# ----------------------------------------------------------------------------- Dask

def test_without_dask_the_errors_name_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r"theory\[dask\]"):
        sweep(FUNC, GRID, dask="tcp://127.0.0.1:1", progress=False)
    assert cli.main(["verify", "--only", CHECK, "--dask", "tcp://127.0.0.1:1", "--no-progress"]) == 2
    assert "theory[dask]" in capsys.readouterr().err
    assert cli.main(["figures", "--out", str(tmp_path), "--only", "stability", "--dask", "tcp://127.0.0.1:1",
                     "--no-progress"]) == 2
    assert "theory[dask]" in capsys.readouterr().err


def test_figures_cli_hands_its_executor_to_the_figures(monkeypatch, tmp_path):
    from theory import figures

    seen = []
    monkeypatch.setattr(figures, "render", lambda *a, **k: seen.append(sw.current_executor("unset")) or [])
    base = ["figures", "--out", str(tmp_path), "--only", "stability", "--no-progress"]
    assert cli.main(base) == 0 and set(seen) == {"unset"}
    seen.clear()
    assert cli.main(base + ["--workers", "1"]) == 0 and set(seen) == {None}
    seen.clear()
    assert cli.main(base + ["--workers", "2"]) == 0 and all(isinstance(e, ProcessPoolExecutor) for e in seen)
    with pytest.raises(SystemExit):
        cli.main(base + ["--workers", "2", "--dask", "tcp://127.0.0.1:1"])


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster


def test_local_dask_cluster_gives_the_serial_and_pool_table(serial, dask_cluster, tmp_path):
    import distributed

    on_dask = sweep(FUNC, GRID, seed=7, dask=dask_cluster.scheduler_address, progress=False)
    assert on_dask.same_results(serial)
    with process_pool(2) as ex:
        assert sweep(FUNC, GRID, seed=7, executor=ex, progress=False).same_results(on_dask)
    with distributed.Client(dask_cluster) as client:  # an executor from a client, resuming a file
        path = tmp_path / "rows.csv"
        sweep(FUNC, {"batch_size": [4], "n_data": [100, 1000]}, seed=7, results=path, progress=False)
        resumed = sweep(FUNC, GRID, seed=7, executor=client.get_executor(), results=path, progress=False)
    assert resumed.resumed == 2 and resumed.same_results(serial)


def _table_lines(text):
    return text.split("\n\n")[0]  # the table, without the summary (it holds the run time)


def test_cli_on_a_local_dask_cluster(dask_cluster, capsys, tmp_path, monkeypatch):
    assert cli.main(["verify", "--only", CHECK, "--no-progress"]) == 0
    plain = _table_lines(capsys.readouterr().out)
    assert cli.main(["verify", "--only", CHECK, "--no-progress", "--dask", dask_cluster.scheduler_address]) == 0
    assert _table_lines(capsys.readouterr().out) == plain and CHECK in plain
    from theory import figures

    seen = []
    monkeypatch.setattr(figures, "render", lambda *a, **k: seen.append(sw.current_executor()) or [])
    assert cli.main(["figures", "--out", str(tmp_path), "--only", "stability", "--no-progress", "--dask",
                     dask_cluster.scheduler_address]) == 0
    assert seen and all(type(e).__name__ == "ClientExecutor" for e in seen)
    with pytest.raises(OSError), sw.dask_executor("tcp://127.0.0.1:9", timeout=0.5):
        pass  # nobody listens there (the CLI reports it as 'cannot reach the Dask scheduler')


# ----------------------------------------------------------------------------- batch_hessian on the backend

def test_batch_hessian_runs_on_the_backend_with_the_old_numbers():
    lam, b, p, sigma, n = [3.0, 2.0], 8, 30, 1.0, 1000
    got = simulate_batch_hessian_top(lam, b, p, sigma, n, n_matrices=6, seed=5, backend="numpy")
    amp = np.sqrt(sigma**2 * (1 / b - 1 / n) / 2)
    tops = []
    for child in derive(5, "batch_size.wigner").spawn(6):  # the former implementation
        a = np.random.default_rng(child).standard_normal((p, p))
        h = amp * (a + a.T)
        h[[0, 1], [0, 1]] += lam
        tops.append(sla.eigh(h, eigvals_only=True, subset_by_index=[p - 1, p - 1])[0])
    ref = Moments.of(np.array(tops)).estimate()
    assert float(got.value) == pytest.approx(float(ref.value), rel=1e-13)
    assert float(got.stderr) == pytest.approx(float(ref.stderr), rel=1e-10)
    ls = simulate_least_squares_batch_top(4, 6, 20, scale=2.0, n_matrices=5, seed=3)
    tops = []
    for child in derive(3, "batch_size.least_squares").spawn(5):
        g = np.random.default_rng(child)
        x = np.sqrt(2.0) * g.standard_normal((20, 6))
        xb = x[g.choice(20, size=4, replace=False)]
        tops.append(np.linalg.eigvalsh(xb @ xb.T / 4)[-1])
    assert float(ls.value) == pytest.approx(float(np.mean(tops)), rel=1e-12)
    with pytest.raises(ValueError, match="backend"):
        simulate_least_squares_batch_top(4, 6, 20, n_matrices=5, backend="fortran")
