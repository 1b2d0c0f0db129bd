"""City-level siting (``scenarios.siting.site``) end to end vs PySAL spopt on the same problem.

Run::

    cd /work/main && PYTHONPATH=. python bench/bench_site_city.py [--minutes 10] [--p 5] [--spacing 200]

On the demo city: ``site()`` generates candidates along the streets, builds
the candidate x cell walking-distance matrix, counts what the existing
clinics already cover, solves the MCLP and re-evaluates the city with the new
sites. The peer gets the same candidate x cell matrix (dense, as spopt needs)
with already-covered cells at weight 0 (the same problem: only uncovered
demand can be gained) and solves ``spopt.locate.MCLP`` with CBC. Both
objectives are the weight newly covered; times are wall seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pulp
from spopt.locate import MCLP

from geo.siting import candidate_matrix
from layers.cities import load_city
from scenarios.siting import site


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--p", type=int, default=5)
    ap.add_argument("--spacing", type=float, default=200.0)
    ap.add_argument("--cbc-limit", type=float, default=600.0)
    args = ap.parse_args()

    city = load_city("demo")
    _ = city.snapped_cells  # built once for both tools
    stamps: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    res = site(city, "clinic-walk", "mclp", p=args.p, spacing_m=args.spacing, overrides={"threshold_min": args.minutes},
               progress=lambda step, f: stamps.append((step, time.perf_counter() - t0)))
    t_ours = time.perf_counter() - t0
    last = dict(stamps)  # each step's last report
    t_matrix = last.get("candidate distances", 0.0)  # candidates and the matrix come first
    t_check = t_ours - last.get("checking coverage", t_ours)

    # the same matrix as the model used, rebuilt through the public function
    inp_mat = candidate_matrix(city.network, res.candidates.snapped, city.snapped_cells, res.standard.threshold_m)
    w = city.cells["population"].to_numpy(dtype=float)
    w_open = np.where(res.current.covered, 0.0, w)
    t = time.perf_counter()
    dense = np.full((inp_mat.shape[1], inp_mat.shape[0]), 1e9)
    coo = inp_mat.tocoo()
    dense[coo.col, coo.row] = coo.data
    model = MCLP.from_cost_matrix(dense, w_open, res.standard.threshold_m, args.p)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=args.cbc_limit))
    t_sp = time.perf_counter() - t
    sp_obj = pulp.value(model.problem.objective)
    status = pulp.LpStatus[model.problem.status]

    s = res.summary()
    print(f"demo city, clinic-walk {args.minutes:g} min ({s['threshold_m']:g} m), p={args.p}, "
          f"{s['candidates']} candidates x {len(city.cells)} cells, {inp_mat.nnz:,} pairs in reach")
    print(f"ours  site() end to end {t_ours:6.2f} s  (candidates+matrix {t_matrix:.2f} s, solve {s['solve_seconds']:.2f} s, "
          f"re-evaluation {t_check:.2f} s)  newly covered {s['newly_covered']:,.1f}  {s['solver']}/{s['status']} gap {s['gap']:.1e}")
    print(f"spopt MCLP + CBC on the same matrix {t_sp:6.2f} s  newly covered {sp_obj:,.1f}  ({status})")
    print(f"solve ratio spopt/ours {t_sp / s['solve_seconds']:.1f}x; end-to-end ours vs spopt solve alone {t_sp / t_ours:.1f}x")
    print(f"after-coverage check: model {s['claimed_covered_after']:,.1f} vs re-evaluated {s['covered_after']:,.1f}, "
          f"{s['cells_disagreeing']} cells disagree")


if __name__ == "__main__":
    main()
