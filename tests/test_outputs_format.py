"""write_outputs(format="parquet"): the same layers as the GeoPackage, one GeoParquet file each."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from scenarios.evaluate import evaluate
from scenarios.outputs import OutputFormatError, write_outputs
from tests.test_evaluate import city  # noqa: F401  (the hand-built city of test_evaluate)


@pytest.fixture(scope="module")
def result(city):  # noqa: F811
    return evaluate(city)


def test_parquet_layers_hold_what_the_geopackage_holds(result, tmp_path):
    gpkg = write_outputs(result, tmp_path / "g", service_areas=True)
    pq = write_outputs(result, tmp_path / "p", service_areas=True, format="parquet")
    assert "gpkg" not in pq and not (tmp_path / "p" / "coverage.gpkg").exists()
    assert {"cells", "facilities", "uncovered_clusters", "service_areas", "csv", "json"} <= set(pq)
    for layer in ("cells", "facilities", "uncovered_clusters", "service_areas"):
        a = gpd.read_file(gpkg["gpkg"], layer=layer)
        b = gpd.read_parquet(pq[layer])
        assert b.crs.to_epsg() == 4326
        assert [c for c in b.columns if c != "geometry"] == [c for c in a.columns if c != "geometry"]
        assert np.all(a.geometry.values.geom_equals_exact(b.geometry.values, tolerance=0.0) | (a.geometry.is_empty & b.geometry.is_empty))
        pd.testing.assert_frame_equal(
            pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")), check_dtype=False
        )
    assert (tmp_path / "p" / "summary.csv").read_text() == (tmp_path / "g" / "summary.csv").read_text()


def test_unknown_format_is_a_user_error(result, tmp_path):
    with pytest.raises(OutputFormatError, match="format: unknown output format 'shp'"):
        write_outputs(result, tmp_path, format="shp")
    assert not any(tmp_path.iterdir())
