"""layers.crs_text.crs_string is CRS.to_string(), asked of PROJ once per CRS."""

from pyproj import CRS

from geo.crs import local_tm_crs
from layers.crs_text import crs_string

PROJ_TM = "+proj=tmerc +lat_0=0 +lon_0=113.31 +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m +no_defs +type=crs"


class Counting(CRS):
    """A CRS that counts its to_string() calls."""

    calls = 0

    def to_string(self) -> str:
        Counting.calls += 1
        return super().to_string()


def test_same_text_as_to_string_once_per_crs():
    tm = local_tm_crs(113.31, 23.12)
    cases = [CRS.from_epsg(4547), CRS.from_epsg(4326), tm, CRS.from_wkt(tm.to_wkt()), CRS.from_proj4(PROJ_TM)]
    for crs in cases:
        assert crs_string(crs) == crs.to_string()
    # a definition without an authority code: to_string() gives the text it was made from: to_string() gives that text, and so does crs_string
    assert crs_string(cases[3]) == cases[3].srs and crs_string(cases[4]) == cases[4].srs != cases[3].srs
    counted = Counting(local_tm_crs(100.5, 30.25).to_json())
    first = crs_string(counted)
    assert [crs_string(counted), crs_string(Counting(counted.srs))] == [first, first]
    assert Counting.calls == 1
