"""Inline the browser libraries (Leaflet and plugins) into a folium map.

folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs. Our maps
use none of the last three, and must open offline (and in tests, which have
no network), so the CDN links are dropped and the vendored copies in
``maps/assets/`` are written into the page instead, with the images their
CSS refers to turned into data URIs.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from functools import lru_cache
from importlib import resources

import folium
from branca.element import Element

__all__ = ["LIBRARIES", "inline_libraries"]

# name -> (javascript files, css files), relative to maps/assets/
LIBRARIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "leaflet": (("leaflet/leaflet.js",), ("leaflet/leaflet.css",)),
    "markercluster": (
        ("markercluster/leaflet.markercluster.js",),
        ("markercluster/MarkerCluster.css", "markercluster/MarkerCluster.Default.css"),
    ),
    "fullscreen": (("fullscreen/Control.FullScreen.js",), ("fullscreen/Control.FullScreen.css",)),
    "measure": (("measure/leaflet-measure.min.js",), ("measure/leaflet-measure.css",)),
}

_URL = re.compile(r"url\((['\"]?)([^)'\"#][^)'\"]*)\1\)")


def _asset(rel: str) -> resources.abc.Traversable:
    return resources.files("maps").joinpath("assets", *rel.split("/"))


@lru_cache(maxsize=None)
def _css(rel: str) -> str:
    """A CSS file with every relative ``url(...)`` replaced by a data URI."""
    css = _asset(rel).read_text(encoding="utf-8")
    folder = rel.rsplit("/", 1)[0]

    def data_uri(match: re.Match) -> str:
        target = _asset(f"{folder}/{match.group(2)}")
        if not target.is_file():  # e.g. a 2x image we did not vendor: leave it
            return match.group(0)
        mime = mimetypes.guess_type(match.group(2))[0] or "application/octet-stream"
        return f"url(data:{mime};base64,{base64.b64encode(target.read_bytes()).decode('ascii')})"

    return _URL.sub(data_uri, css)


@lru_cache(maxsize=None)
def _js(rel: str) -> str:
    code = _asset(rel).read_text(encoding="utf-8")
    # the source map is not shipped: drop the pointer to it
    code = re.sub(r"^//# sourceMappingURL=.*$", "", code, flags=re.M)
    # a literal "</script" would end the inline block early
    return code.replace("</script", "<\\/script")


def inline_libraries(m: folium.Map, elements: list, libraries: list[str]) -> None:
    """Replace the CDN links of ``m`` and ``elements`` by inline copies of ``libraries``.

    Parameters
    ----------
    m : folium.Map
        The map, already attached to its Figure.
    elements : list
        folium plugins whose CDN links must go too (MarkerCluster, ...).
    libraries : list of str
        Keys of :data:`LIBRARIES` to inline, Leaflet first.
    """
    for el in [m, *elements]:
        # instance attributes shadow the class lists that folium renders as links
        el.default_js = []
        el.default_css = []
    header = m.get_root().header
    for name in libraries:
        js_files, css_files = LIBRARIES[name]
        for i, rel in enumerate(css_files):
            header.add_child(Element(f"<style>{_css(rel)}</style>"), name=f"lc_css_{name}_{i}")
        for i, rel in enumerate(js_files):
            header.add_child(Element(f"<script>{_js(rel)}</script>"), name=f"lc_js_{name}_{i}")
