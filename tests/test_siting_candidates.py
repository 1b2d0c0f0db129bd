"""Candidate generation and the candidate-to-demand matrix on a small grid."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from geo.network import WalkNetwork
from geo.siting import (
    ModelOptions,
    SitingError,
    SitingInput,
    candidate_matrix,
    candidates_from_points,
    candidates_on_network,
    mclp,
)
from geo.snap import snap


def grid(n: int = 5, step: float = 100.0) -> WalkNetwork:
    ij = np.arange(n * n)
    x, y = (ij % n) * step, (ij // n) * step
    right = ij[(ij % n) < n - 1]
    up = ij[ij < n * (n - 1)]
    u = np.concatenate([right, up])
    v = np.concatenate([right + 1, up + n])
    return WalkNetwork.from_edges(x, y, u, v)


def test_candidates_on_network_spacing_and_boundary():
    net = grid()
    c = candidates_on_network(net, 50.0)
    assert len(c) == 2 * net.n_edges  # 100 m edges: points at 25 m and 75 m
    along = np.sort(np.concatenate([c.snapped.to_u, c.snapped.to_v]))
    assert set(np.round(along, 6)) == {25.0, 75.0}
    assert np.allclose(c.snapped.access, 0.0)
    # a 30 m spacing on a 100 m edge gives 4 points, 25 m apart
    assert len(candidates_on_network(net, 30.0)) == 4 * net.n_edges
    box = shapely.box(0, 0, 150, 150)
    inside = candidates_on_network(net, 50.0, boundary=box)
    assert len(inside) > 0 and shapely.covers(box, shapely.points(inside.x, inside.y)).all()
    assert len(inside) < len(c)
    with pytest.raises(SitingError, match="spacing_m"):
        candidates_on_network(net, 0.0)


def test_candidates_from_points_rejects_far_ones():
    net = grid()
    pts = gpd.GeoDataFrame(geometry=shapely.points([[10, 5], [5000, 5000], [250, 190]]))
    c = candidates_from_points(net, pts, max_snap_m=50.0)
    assert c.source_index.tolist() == [0, 2] and c.rejected.tolist() == [1]
    with pytest.raises(SitingError, match="none of its"):
        candidates_from_points(net, pts.iloc[[1]], max_snap_m=50.0)


def test_candidate_matrix_matches_networkx():
    net = grid()
    cand = candidates_on_network(net, 100.0)
    rng = np.random.default_rng(0)
    dxy = rng.random((30, 2)) * 400
    dem = snap(net, dxy[:, 0], dxy[:, 1])
    reach = 250.0
    mat = candidate_matrix(net, cand.snapped, dem, reach).toarray()

    # independent answer: networkx on the grid with both points inserted as nodes
    g = nx.Graph()
    for a, b, l in zip(net.u, net.v, net.length):
        g.add_edge(int(a), int(b), weight=float(l))

    def dist(s_i: int, t_i: int) -> float:
        h = g.copy()
        for name, pts, i in (("s", cand.snapped, s_i), ("t", dem, t_i)):
            e = pts.edge[i]
            h.add_edge((name,), int(net.u[e]), weight=pts.access[i] + pts.to_u[i])
            h.add_edge((name,), int(net.v[e]), weight=pts.access[i] + pts.to_v[i])
        best = nx.shortest_path_length(h, ("s",), ("t",), weight="weight")
        if cand.snapped.edge[s_i] == dem.edge[t_i]:
            best = min(best, cand.snapped.access[s_i] + abs(cand.snapped.to_u[s_i] - dem.to_u[t_i]) + dem.access[t_i])
        return best

    for s_i in range(0, len(cand), 7):
        for t_i in range(30):
            d = dist(s_i, t_i)
            if d <= reach:
                assert mat[s_i, t_i] == pytest.approx(max(d, 1e-6), abs=1e-9)
            else:
                assert mat[s_i, t_i] == 0.0
    # and a siting run on it works end to end
    r = mclp(SitingInput(candidate_matrix(net, cand.snapped, dem, reach), np.ones(30), reach, candidate_xy=cand.xy), 2,
             ModelOptions(method="milp", min_spacing_m=150))
    assert r.status == "Optimal" and r.objective > 0
