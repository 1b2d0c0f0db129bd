"""The polygon fast path of scenarios.gpkg_layer writes what pyogrio.write_dataframe(frame.to_crs(WGS84)) writes."""

import sqlite3

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.crs import WGS84, local_tm_crs
from scenarios.gpkg_layer import _polygon_table, polygon_wkb, write_gpkg_layer


def polygons(seed: int, n: int, holes: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-5_000, 5_000, n)
    y0 = rng.uniform(-5_000, 5_000, n)
    side = rng.uniform(10, 200, n)
    out = []
    for i in range(n):
        shell = [(x0[i], y0[i]), (x0[i] + side[i], y0[i]), (x0[i] + side[i], y0[i] + side[i] * 1.1),
                 (x0[i] + rng.uniform(0, side[i]), y0[i] + side[i] * 1.7), (x0[i], y0[i] + side[i])]
        inner = []
        if holes and i % 3 == 0:
            s = side[i] / 4
            inner = [[(x0[i] + s, y0[i] + s), (x0[i] + 2 * s, y0[i] + s), (x0[i] + 2 * s, y0[i] + 2 * s)],
                     [(x0[i] + 3 * s, y0[i] + 3 * s), (x0[i] + 3.5 * s, y0[i] + 3 * s), (x0[i] + 3.5 * s, y0[i] + 3.5 * s)]]
        out.append(shapely.Polygon(shell, inner))
    return np.array(out, dtype=object)


def frame(seed: int, n: int = 400, holes: bool = True) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {
            "cell_id": [f"c{i}" for i in range(n)],
            "population": rng.uniform(0, 500, n),
            "facility": np.where(rng.random(n) < 0.3, None, "F1").astype(object),
            "covered": rng.random(n) < 0.5,
            "piece": rng.integers(0, 5, n),
            "nothing": np.full(n, None, dtype=object),
            "geometry": polygons(seed, n, holes),
            "after": rng.normal(size=n),
        },
        crs=local_tm_crs(113.3, 23.1),
    )


def blobs(path, layer):
    with sqlite3.connect(path) as db:
        return db.execute(f'SELECT * FROM "{layer}" ORDER BY fid').fetchall()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_path_writes_the_same_layer(tmp_path, seed):
    f = frame(seed, holes=seed != 1)
    assert _polygon_table(f) is not None  # the fast path really runs
    ours, theirs = tmp_path / "ours.gpkg", tmp_path / "theirs.gpkg"
    write_gpkg_layer(f, ours, "cells")
    pyogrio.write_dataframe(f.to_crs(WGS84), theirs, layer="cells", driver="GPKG", use_arrow=True)
    # every row, geometry blobs included, byte for byte; and the same layer description
    assert blobs(ours, "cells") == blobs(theirs, "cells")
    a, b = pyogrio.read_info(ours, layer="cells"), pyogrio.read_info(theirs, layer="cells")
    for key in ("crs", "geometry_type", "features", "fields"):
        assert np.array_equal(a[key], b[key]) if key == "fields" else a[key] == b[key], key
    assert list(a["dtypes"]) == list(b["dtypes"])
    back, want = gpd.read_file(ours, layer="cells"), gpd.read_file(theirs, layer="cells")
    assert_geodataframe_equal(back, want)


def test_wkb_bytes_equal_shapely(tmp_path):
    g = polygons(5, 200, True)
    _, coords, (rings, geoms) = shapely.to_ragged_array(g)
    assert polygon_wkb(coords, rings, geoms).to_pylist() == list(shapely.to_wkb(g))


def test_other_layers_take_the_general_path(tmp_path):
    f = frame(3, n=50)
    multi = f.copy()
    multi.loc[0, "geometry"] = shapely.MultiPolygon([f.geometry.iloc[0], f.geometry.iloc[1]])
    points = f.set_geometry(f.centroid)
    listy = f.assign(cell_ids=[[1, 2]] * len(f))
    for other in (multi, points, listy, f.iloc[:0]):
        assert _polygon_table(other) is None
    write_gpkg_layer(multi, tmp_path / "m.gpkg", "m")
    assert pyogrio.read_info(tmp_path / "m.gpkg", layer="m")["geometry_type"] == "MultiPolygon"


def test_geometry_encoded_beforehand_writes_the_same_layer(tmp_path):
    from scenarios.gpkg_layer import wgs84_polygon_wkb

    f = frame(4)
    wkb = wgs84_polygon_wkb(f.geometry.values._data, f.crs)
    assert wkb is not None and wkb.to_pylist() == list(shapely.to_wkb(f.to_crs(WGS84).geometry.values._data))
    ahead, here = tmp_path / "ahead.gpkg", tmp_path / "here.gpkg"
    write_gpkg_layer(f, ahead, "cells", wkb)
    write_gpkg_layer(f, here, "cells")
    assert blobs(ahead, "cells") == blobs(here, "cells")
    with pytest.raises(ValueError, match="wkb: 399 geometries for a layer of 400 rows"):
        write_gpkg_layer(f, tmp_path / "short.gpkg", "cells", wkb.slice(1))
    assert wgs84_polygon_wkb(f.geometry.values._data, None) is None  # no CRS: the general path says why
    points = np.array([shapely.Point(0, 0)], dtype=object)
    assert wgs84_polygon_wkb(points, f.crs) is None
