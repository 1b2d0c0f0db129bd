// Compare: the deltas per standard (GET /scenarios/compare) and per unit (GET /workbench/compare/units) of the
// other plan ("before") against this one ("after"), and a swipe view: the other plan's cells to the left of a
// divider, this plan's to the right.
import { call, callJob, enc } from "./api.js";
import { $, CellTiles, S, label, message } from "./state.js";

let swipe = null;

function signed(v) { return (v > 0 ? "+" : "") + Math.round(v).toLocaleString(); }

function row(body, cells, delta) {
  const tr = body.insertRow();
  for (const text of cells) tr.insertCell().textContent = text;
  const d = tr.insertCell();
  d.className = "delta";
  d.dataset.value = delta;
  d.textContent = signed(delta);
  return tr;
}

/** The query naming "before" (the other plan, or the city's own facilities) and "after" (this plan). */
function pair() {
  const b = $("other").value;
  return b ? `a=${enc(b)}&b=${enc(S.name)}` : `a=${enc(S.name)}`;
}

export async function compareNow() {
  const bar = $("cmpprogress");
  const go = $("comparego");
  // two plans' full runs: a background job on a large city (202), followed here with a progress bar
  bar.value = 0;
  bar.hidden = false;
  go.disabled = true;
  try {
    const level = $("level").value;
    const byUnit = S.city.levels.length > 0; // a city built without unit boundaries has per-standard deltas only
    // one after the other: the first makes (and keeps) both plans' full runs, which the second then reads at once
    const std = await callJob(`/scenarios/compare?${pair()}`, { onProgress: (pc) => { bar.value = pc; } });
    const units = byUnit ? await callJob(`/workbench/compare/units?${pair()}${level ? `&level=${enc(level)}` : ""}`) : null;
    const body = $("deltas").tBodies[0];
    body.replaceChildren();
    for (const r of std.table) {
      const s = S.city.standards.find((x) => x.id === r.standard);
      row(body, [s ? label(s) : r.standard, Math.round(r.covered_before).toLocaleString(), Math.round(r.covered_after).toLocaleString()],
        r.covered_change).dataset.standard = r.standard;
    }
    S.unitDeltas = units;
    drawUnitDeltas();
  } catch (err) {
    message(err.message);
  } finally {
    bar.hidden = true;
    go.disabled = false;
  }
}

/** The per-unit deltas of the chosen standard. */
export function drawUnitDeltas() {
  const body = $("unitdeltas").tBodies[0];
  body.replaceChildren();
  if (!S.unitDeltas) return;
  const std = $("standard").value;
  for (const u of S.unitDeltas.units.filter((x) => x.standard === std)) {
    const tr = row(body, [u.name, Math.round(u.covered_before).toLocaleString(), Math.round(u.covered_after).toLocaleString()], u.covered_change);
    tr.dataset.unit = u.unit_id;
    tr.dataset.standard = u.standard;
  }
}

// ------------------------------------------------------------------ swipe

function clip(map) {
  if (!swipe) return;
  const size = map.getSize();
  const nw = map.containerPointToLayerPoint([0, 0]);
  const se = map.containerPointToLayerPoint(size);
  const x = nw.x + (size.x * Number($("swipex").value)) / 100;
  map.getPane("swipe").style.clip = `rect(${nw.y}px, ${x}px, ${se.y}px, ${nw.x}px)`;
}

/** Turn the swipe view on (the other plan's tiles, clipped left of the divider) or off. */
export async function setSwipe(map, on) {
  if (swipe) { swipe.remove(); swipe = null; }
  $("swipex").hidden = !on;
  S.swipe = null;
  if (!on || !S.name) return;
  const other = $("other").value;
  const v = other ? (await call(`/scenarios/${enc(other)}`)).body.version : "base";
  const name = other || S.name;
  const of = other ? "scenario" : "base";
  if (!map.getPane("swipe")) map.createPane("swipe").style.zIndex = 250; // over this plan's cells, under the markers
  swipe = new CellTiles(
    ({ x, y, z }) => `/workbench/scenarios/${enc(name)}/tiles/${enc($("standard").value)}/${z}/${x}/${y}.png?mode=${$("mode").value}&of=${of}&v=${v}`,
    { pane: "swipe", opacity: 0.8, maxZoom: 20 },
  ).addTo(map);
  S.swipe = { name, of, version: v, layer: swipe };
  clip(map);
}

export function initSwipe(map) {
  map.on("move zoom resize", () => clip(map));
  $("swipex").oninput = () => clip(map);
  $("swipe").onchange = () => setSwipe(map, $("swipe").checked).catch((err) => message(err.message));
  $("other").addEventListener("change", () => { if ($("swipe").checked) setSwipe(map, true); });
}

/** Restyle the swipe layer when the standard or mode changes. */
export function redrawSwipe(map) {
  if (swipe) setSwipe(map, true).catch((err) => message(err.message));
}
