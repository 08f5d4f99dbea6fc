"""Sweeps on executors (qdsl/sweep.py): the records of a parallel sweep equal those of its points run
one by one — on joblib's loky pool, a standard-library Pool through PoolExecutor, and a Dask
LocalCluster — in grid order; a failing point is a record, not an exception."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import qdsl
from qdsl.sweep import PoolExecutor, evaluate, points, sweep

ROOT = Path(__file__).resolve().parents[1]
QUARTIC = str(ROOT / "examples/quartic.qd")
GD_CUBIC = str(ROOT / "examples/gd_cubic.qd")

# 8 resource projections (no circuit built: each point is a fraction of a second)
GRID = {"params": [1e3, 1e5, 1e7, 1e8], "steps": [20, 200]}


@pytest.fixture(scope="module")
def one_by_one():
    return [evaluate(QUARTIC, p, "resources") for p in points(GRID)]


def test_points_are_the_cartesian_product_in_order():
    assert points({"a": [1, 2], "b": ["x", "y", "z"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
        {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]
    assert points(None) == [{}]
    assert points([{"order": 2}, {"order": 3}]) == [{"order": 2}, {"order": 3}]


def test_a_sweep_in_this_process_is_its_points(one_by_one):
    recs = sweep(QUARTIC, GRID, what="resources")
    assert recs == one_by_one
    assert len(recs) == 8 and all(r["ok"] for r in recs)
    # the projection really varies with the point (not one record repeated)
    t = [r["result"]["counts"]["t_states"] if "t_states" in r["result"].get("counts", {}) else
         json.dumps(r["result"], sort_keys=True) for r in recs]
    assert len(set(map(str, t))) == 8
    json.dumps(recs, allow_nan=False)     # strict JSON


def test_loky_with_two_jobs_equals_one_by_one(one_by_one):
    assert sweep(QUARTIC, GRID, what="resources", jobs=2) == one_by_one


def test_any_pool_with_apply_async(one_by_one):
    import multiprocessing as mp
    ctx = mp.get_context("forkserver")
    ex = PoolExecutor(ctx.Pool(2))
    try:
        assert sweep(QUARTIC, GRID, what="resources", executor=ex) == one_by_one
    finally:
        ex.shutdown()


def test_dask_local_cluster_equals_one_by_one(one_by_one):
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert sweep(QUARTIC, GRID, what="resources", executor=client.get_executor()) == one_by_one


def test_a_failing_point_is_a_record_and_the_sweep_goes_on():
    recs = sweep(GD_CUBIC, [{"order": 2}, {"order": 0}, {"order": 2.5}, {"flavour": 1}], what="check")
    assert recs[0]["ok"] and recs[0]["result"]["dissipative"] is True
    assert [r["ok"] for r in recs] == [True, False, False, False]
    assert all(r["error"]["exit_status"] == 2 for r in recs[1:])
    assert recs[3]["error"]["code"] == "E0625"


def test_stages_give_their_own_documents():
    check, = sweep(GD_CUBIC, None, what="check")
    sim, = sweep(GD_CUBIC, None, what="simulate")
    from qdsl.formats import stamp
    assert check["result"] == json.loads(json.dumps(stamp(qdsl.compile(GD_CUBIC).certificate.to_dict(),
                                                          "check"), default=float))
    assert sim["result"]["format"] == "qdsl.simulate/1"
    assert "orders" in json.dumps(sim["result"]) or "trajectory" in json.dumps(sim["result"])


def test_the_command_line_writes_json_lines(tmp_path, one_by_one):
    out = tmp_path / "records.jsonl"
    r = subprocess.run([sys.executable, "-m", "qdsl", "sweep", QUARTIC, "--grid", "params=1e3,1e5,1e7,1e8",
                        "--grid", "steps=20,200", "--jobs", "2", "-o", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    # the file is in completion order; sorted back by point they are the one-by-one records
    key = (lambda rec: (rec["point"]["params"], rec["point"]["steps"]))
    assert sorted(recs, key=key) == sorted(one_by_one, key=key)
    again = subprocess.run([sys.executable, "-m", "qdsl", "sweep", QUARTIC, "-o", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "E0004" in again.stderr       # never overwritten unasked
    bad = subprocess.run([sys.executable, "-m", "qdsl", "sweep", QUARTIC, "--grid", "params"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "E0625" in bad.stderr


def test_records_validate_against_their_schema(one_by_one):
    jsonschema = pytest.importorskip("jsonschema")
    schemas = ROOT / "docs" / "schemas"
    rec_schema = json.loads((schemas / "qdsl.sweep.v1.json").read_text())
    res_schema = json.loads((schemas / "qdsl.resources.v1.json").read_text())
    bad = evaluate(GD_CUBIC, {"order": 0}, "check")
    for rec in [*one_by_one, bad]:
        jsonschema.validate(rec, rec_schema)
    for rec in one_by_one:
        jsonschema.validate(rec["result"], res_schema)


def projected_degree(model, params, steps):
    """A function swept like a stage (module-level, so any executor can pickle it)."""
    r = qdsl.resources(qdsl.compile(model), params=params, steps=steps, output=None)
    return {"degree": r.inputs["degree"], "n": params}


def test_a_function_is_swept_like_a_stage():
    grid = {"params": [10 ** 3, 10 ** 6], "steps": [20, 40]}
    seq = sweep(QUARTIC, grid, what=projected_degree)
    assert sweep(QUARTIC, grid, what=projected_degree, jobs=2) == seq
    assert all(r["ok"] and r["what"].endswith("projected_degree") for r in seq)
    assert seq[0]["result"]["degree"] < seq[1]["result"]["degree"]     # T = 40 needs a higher degree


def _structured_scale():
    import importlib.util
    spec = importlib.util.spec_from_file_location("structured_scale", ROOT / "benchmarks/structured_scale.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_structured_scale_rows_on_loky_equal_one_by_one(tmp_path):
    """benchmarks/structured_scale.py's rows are sweep points: on two loky workers their records
    equal those run one by one, but for the seconds each took."""
    bench = _structured_scale()
    paths = []
    for n in (4, 6):
        (tmp_path / f"n{n}").mkdir()
        paths.append(bench.write_model(tmp_path / f"n{n}", n, 3))
    grid = [{"construction": "structured"}]

    def untimed(recs):
        return [dict(r, result={k: v for k, v in r["result"].items() if not k.endswith("_s")}) for r in recs]
    seq = qdsl.sweep(paths, grid, what=bench.measure)
    assert all(r["ok"] and r["result"]["cost_matches"] for r in seq), seq
    assert [r["result"]["n"] for r in seq] == [4, 6]
    assert untimed(qdsl.sweep(paths, grid, what=bench.measure, jobs=2)) == untimed(seq)


def test_plan_crossovers_on_an_executor_equal_one_by_one():
    """`qdsl plan`'s crossover searches (one per access model) as sweep points on two loky workers,
    and on a standard-library Pool: the same report as in this process."""
    import multiprocessing

    from qdsl.backends.plan import plan
    serial = json.dumps(dict(plan(qdsl.compile(GD_CUBIC))), sort_keys=True)
    assert json.dumps(dict(plan(qdsl.compile(GD_CUBIC), jobs=2)), sort_keys=True) == serial
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        got = plan(qdsl.compile(GD_CUBIC), executor=PoolExecutor(pool))
    assert json.dumps(dict(got), sort_keys=True) == serial


def test_plan_jobs_on_the_command_line():
    r = subprocess.run([sys.executable, "-m", "qdsl", "plan", GD_CUBIC, "--json", "--jobs", "2", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    s = subprocess.run([sys.executable, "-m", "qdsl", "plan", GD_CUBIC, "--json", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and s.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(s.stdout)
    bad = subprocess.run([sys.executable, "-m", "qdsl", "plan", GD_CUBIC, "--jobs", "0"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "E0625" in bad.stderr and "Traceback" not in bad.stderr


def test_qdsl_sweep_is_callable_after_its_module_is_imported():
    import qdsl.sweep as module
    assert qdsl.sweep is module or callable(qdsl.sweep)
    assert qdsl.sweep(QUARTIC, {"params": [1e3]}) == sweep(QUARTIC, {"params": [1e3]})


def test_plan_crossovers_on_a_dask_local_cluster_equal_one_by_one():
    pytest.importorskip("dask.distributed")
    from qdsl.backends.plan import plan
    serial = json.dumps(dict(plan(qdsl.compile(GD_CUBIC))), sort_keys=True)
    got = plan(qdsl.compile(GD_CUBIC), executor="dask://local", jobs=2)
    assert json.dumps(dict(got), sort_keys=True) == serial
