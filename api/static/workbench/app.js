// The planner's workbench: coverage of the chosen standard drawn from tiles of the
// scenario's live state, facilities to add (click), move (drag), delete and resize,
// every edit saved to the scenario with If-Match, undo/redo, suggestions, comparison.
import { ApiError, call, enc, getKey, setKey, waitJob } from "./api.js";
import { compareNow, drawUnitDeltas, initSwipe, redrawSwipe } from "./compare.js";
import { currentLang, setLang, t } from "./i18n.js";
import { drawGaps, drawRatios, initUnits, refreshLayers } from "./layers.js";
import { download } from "./report.js";
import { $, CellTiles, S, label, message, say } from "./state.js";

const bench = (window.lcBench = { edits: [] });

const map = L.map("map", { preferCanvas: true, zoomControl: true });
S.map = map;
const canvas = L.canvas();

/** The chosen colouring: a standard (covered, bands) or an E2SFCA accessibility standard (access). */
function colouring() {
  const mode = $("mode").value;
  return { mode, layer: mode === "access" ? $("access").value : $("standard").value };
}

function cellLayer() {
  return new CellTiles(({ x, y, z }) => {
    const { mode, layer } = colouring();
    return `/workbench/scenarios/${enc(S.name)}/tiles/${enc(layer)}/${z}/${x}/${y}.png?mode=${mode}&v=${S.version}`;
  }, { opacity: 0.8, maxZoom: 20, onProblem: (p) => say("tile_problem", { detail: p.detail || p.title }) });
}
let cells = null;

// ------------------------------------------------------------------ labels

function fillSelects() {
  const std = $("standard"), kind = $("kind"), acc = $("access"), level = $("level");
  const keep = [std.value, kind.value, acc.value, level.value];
  std.replaceChildren(...S.city.standards.map((s) => new Option(label(s), s.id)));
  kind.replaceChildren(...S.city.kinds.map((k) => new Option(label(k), k.id)));
  acc.replaceChildren(...S.city.access.map((a) => new Option(label(a), a.id)));
  level.replaceChildren(...S.city.levels.map((l) => new Option(t(`level_${l}`) === `level_${l}` ? l : t(`level_${l}`), l)));
  [std.value, kind.value, acc.value, level.value] = keep.map((v, i) => v || [std, kind, acc, level][i].value);
  const noUnits = !S.city.levels.length;
  $("levelbox").hidden = noUnits;
  $("nounits").hidden = !noUnits;
  $("unitdeltas").hidden = noUnits;
  if (S.ratios) drawRatios();
  $("city").textContent = S.city.name + (S.city.generated ? ` (${t("generated")})` : "");
}

function applyLang(lang) {
  setLang(lang);
  if (S.city) { fillSelects(); renderNumbers(); legend(); updateButtons(); drawUnitDeltas(); }
  if (S.said) say(S.said.key, S.said.vars, S.said.kind, S.said.action);
  $("keystate").textContent = getKey() ? t("key_set") : t("key_none");
}

// ------------------------------------------------------------------ numbers, legend

function renderNumbers(changed = {}) {
  const body = $("numbers").tBodies[0];
  body.replaceChildren();
  for (const s of S.city.standards) {
    const sum = S.standards[s.id];
    if (!sum) continue;
    const tr = body.insertRow();
    tr.dataset.standard = s.id;
    tr.insertCell().textContent = label(s);
    const c = tr.insertCell();
    c.className = "covered";
    c.dataset.value = sum.covered;
    c.textContent = Math.round(sum.covered).toLocaleString();
    tr.insertCell().textContent = sum.share_covered == null ? "–" : `${(100 * sum.share_covered).toFixed(1)}%`;
    tr.insertCell().textContent = changed[s.id] ?? "";
  }
}

const COVERED = "#1a9850", UNCOVERED = "#d73027";
const ACCESS = [["out_of_reach", "#969696"], ["under_served", "#fdae61"], ["served", COVERED]];
function legend() {
  const mode = $("mode").value;
  $("accessbox").hidden = mode !== "access";
  const s = S.city.standards.find((x) => x.id === $("standard").value);
  const bands = mode === "bands" && s && s.bands.length > 2 ? s.bands : null;
  const items = mode === "access"
    ? ACCESS.map(([key, colour]) => [t(key), colour])
    : bands
      ? bands.map((b, i) => [b, bands.length === 3 ? [COVERED, "#fdae61", UNCOVERED][i] : `hsl(${120 - (120 * i) / (bands.length - 1)},60%,45%)`])
      : [[t("covered"), COVERED], [t("not_covered"), UNCOVERED]];
  $("legend").replaceChildren(...items.map(([text, colour]) => {
    const d = document.createElement("div");
    d.innerHTML = `<span class="swatch" style="background:${colour}"></span>`;
    d.append(text);
    return d;
  }));
}

// ------------------------------------------------------------------ facilities

function kindColour(kind) { return (S.city.kinds.find((k) => k.id === kind) || { colour: "#555" }).colour; }

function icon(f) {
  const sel = S.selected === f.id ? " sel" : "";
  return L.divIcon({ className: "", html: `<div class="lc-fac${sel}" style="background:${kindColour(f.kind)}" title="${f.id}"></div>`, iconSize: [16, 16] });
}

function drawFacility(f) {
  let m = S.markers.get(f.id);
  if (!m) {
    m = L.marker([f.lat, f.lon], { icon: icon(f), draggable: true, autoPan: false, title: f.id }).addTo(map);
    m.lcId = f.id;
    m.on("click", (e) => { L.DomEvent.stopPropagation(e); select(f.id); });
    m.on("dragend", () => {
      const p = m.getLatLng(), old = S.facilities.get(f.id);
      edit({ op: "move", id: f.id, lon: p.lng, lat: p.lat }, { op: "move", id: f.id, lon: old.lon, lat: old.lat });
    });
    S.markers.set(f.id, m);
  } else {
    m.setLatLng([f.lat, f.lon]);
    m.setIcon(icon(f));
  }
}

function setFacilities(features) {
  for (const m of S.markers.values()) m.remove();
  S.markers.clear();
  S.facilities.clear();
  for (const feat of features) {
    const [lon, lat] = feat.geometry.coordinates;
    const f = { ...feat.properties, lon, lat };
    S.facilities.set(f.id, f);
    drawFacility(f);
  }
}

function select(id) {
  const prev = S.selected;
  S.selected = id;
  for (const x of [prev, id]) if (x && S.facilities.has(x)) drawFacility(S.facilities.get(x));
  const f = id && S.facilities.get(id);
  $("selected").hidden = !f;
  if (!f) return;
  $("selname").textContent = `${f.name || f.id} (${label(S.city.kinds.find((k) => k.id === f.kind) || { en: f.kind, zh: f.kind })})`;
  $("beds").value = f.beds ?? "";
  $("doctors").value = f.doctors ?? "";
}

// Apply a successful edit to the local facility list (the server holds the truth; this mirrors it).
function mirror(e) {
  if (e.op === "add") {
    const f = { id: e.id, name: e.name || e.id, kind: e.kind, lon: e.lon, lat: e.lat, ...(e.capacities || {}) };
    S.facilities.set(e.id, f);
    drawFacility(f);
  } else if (e.op === "move") {
    const f = S.facilities.get(e.id);
    Object.assign(f, { lon: e.lon, lat: e.lat });
    drawFacility(f);
  } else if (e.op === "remove") {
    S.facilities.delete(e.id);
    const m = S.markers.get(e.id);
    if (m) m.remove();
    S.markers.delete(e.id);
    if (S.selected === e.id) select(null);
  } else if (e.op === "set_capacity") {
    S.facilities.get(e.id)[e.field] = e.value;
  }
}

// ------------------------------------------------------------------ edits

function updateButtons() {
  $("undo").disabled = !S.undo.length || S.busy;
  $("redo").disabled = !S.redo.length || S.busy;
  $("version").textContent = `${t("version")} ${S.version}`;
}

// A new tile layer over the old one, which goes once the new tiles are in: no blank map while they load.
function repaint() {
  const t0 = performance.now();
  if (!S.name || !S.version) return Promise.resolve(0); // no scenario open yet: nothing to draw
  return new Promise((resolve) => {
    const next = (cells = cellLayer());
    next.once("load", () => {
      map.eachLayer((l) => { if (l instanceof CellTiles && l !== next && l.options.pane !== "swipe") l.remove(); }); // older repaints too
      resolve(performance.now() - t0);
    });
    next.addTo(map);
  });
}

// After an edit from version `since`: fetch again only the tiles in view whose colours changed (the server
// compares the two versions' cell colours); every tile when it cannot tell (E2SFCA, colours no longer kept).
async function repaintChanged(since) {
  const t0 = performance.now();
  const { mode, layer } = colouring();
  if (!cells || mode === "access" || cells._tileZoom === undefined) return repaint();
  const z = cells._tileZoom;
  const r = await call(`/workbench/scenarios/${enc(S.name)}/tiles/${enc(layer)}/changed?since=${since}&z=${z}&mode=${mode}`);
  if (r.body.tiles === null || z !== cells._tileZoom) return repaint();
  const n = await cells.refresh(new Set(r.body.tiles.map(([x, y]) => `${x}:${y}`)));
  bench.tiles = n;
  return performance.now() - t0;
}

/** Save `e` to the scenario (If-Match: the version we have); with `inverse`, a new step to undo. */
async function edit(e, inverse = null) {
  if (!getKey()) { say("need_key"); await reloadScenario(); return false; }
  S.busy = true;
  updateButtons();
  const t0 = performance.now();
  try {
    const r = await call(`/scenarios/${enc(S.name)}/edits`, { method: "POST", body: e, ifMatch: S.version });
    const tApi = performance.now() - t0;
    const since = S.version;
    S.version = r.body.version;
    Object.assign(S.standards, r.body.standards);
    mirror(e);
    renderNumbers(r.body.changed_cells);
    if (inverse) { S.undo.push({ e, inverse }); S.redo = []; }
    message("");
    const layers = refreshLayers(map); // units' ratio rules and gaps, beside the tiles
    const tPaint = await (bench.fullRepaint ? repaint() : repaintChanged(since)); // the bench times both
    bench.edits.push({ op: e.op, api_ms: tApi, total_ms: performance.now() - t0, paint_ms: tPaint, tiles: bench.tiles });
    await layers;
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 412) {
      const now = ((err.problem.errors || [])[0]?.message || "").match(/"(\d+)"/);
      say("conflict", { v: now ? now[1] : "?" }, "error", { label: "reload", run: reloadScenario });
      // put the marker back where the server still has it
      const f = S.facilities.get(e.id);
      if (f) drawFacility(f); else { const m = S.markers.get(e.id); if (m) { m.remove(); S.markers.delete(e.id); } }
    } else {
      message(err.message);
      const f = S.facilities.get(e.id);
      if (f) drawFacility(f);
    }
    return false;
  } finally {
    S.busy = false;
    updateButtons();
  }
}

async function undo() {
  const step = S.undo.pop();
  if (step) (await edit(step.inverse) ? S.redo : S.undo).push(step);
  updateButtons();
}

async function redo() {
  const step = S.redo.pop();
  if (step) (await edit(step.e) ? S.undo : S.redo).push(step);
  updateButtons();
}

function addAt(latlng, kind = $("kind").value, extra = {}) {
  const id = `WB-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
  const e = { op: "add", id, kind, lon: +latlng.lng.toFixed(7), lat: +latlng.lat.toFixed(7), ...extra };
  return edit(e, { op: "remove", id });
}

function removeSelected() {
  const f = S.facilities.get(S.selected);
  if (!f) return;
  const caps = {};
  for (const c of S.city.capacity_fields) if (f[c] != null) caps[c] = f[c];
  edit({ op: "remove", id: f.id }, { op: "add", id: f.id, kind: f.kind, name: f.name || "", lon: f.lon, lat: f.lat, capacities: caps });
}

async function setCapacity() {
  const f = S.facilities.get(S.selected);
  if (!f) return;
  for (const field of ["beds", "doctors"]) {
    const raw = $(field).value;
    const value = raw === "" ? null : Number(raw);
    if (value === (f[field] ?? null)) continue;
    if (!(await edit({ op: "set_capacity", id: f.id, field, value }, { op: "set_capacity", id: f.id, field, value: f[field] ?? null }))) return;
  }
}

// ------------------------------------------------------------------ scenario

async function reloadScenario() {
  const [cov, fac] = await Promise.all([
    call(`/workbench/scenarios/${enc(S.name)}/coverage`),
    call(`/workbench/scenarios/${enc(S.name)}/facilities`),
  ]);
  S.version = cov.body.version;
  S.standards = cov.body.standards;
  setFacilities(fac.body.features);
  S.undo = [];
  S.redo = [];
  renderNumbers();
  updateButtons();
  $("exportmap").href = `/scenarios/${enc(S.name)}/map.html?lang=${currentLang()}`;
  $("exportcsv").href = `/scenarios/compare?a=${enc(S.name)}&format=csv`;
  await Promise.all([repaint(), refreshLayers(map)]);
}

async function openScenario(name) {
  S.name = name;
  $("scenario").value = name;
  history.replaceState(null, "", `?scenario=${enc(name)}`);
  // listed, not probed: a 404 would be a console error
  const known = (await call("/scenarios")).body;
  if (!known.some((v) => v.name === name)) {
    if (!getKey()) {
      // a reader without a key cannot create it: show a plan that exists, read only, rather than an empty map
      S.version = 0;
      if (!known.length) { say("need_key_new", { name }); return; }
      await openScenario(known[0].name);
      say("read_only", { asked: name, name: known[0].name }, "info");
      return;
    }
    await call("/scenarios", { method: "POST", body: { name, description: "made in the workbench" } });
    say("created", {}, "info");
    known.push({ name });
  }
  await reloadScenario();
  listScenarios(known);
}

function listScenarios(known) {
  const other = $("other");
  const keep = other.value;
  const current = new Option(t("current"), "");
  current.dataset.i18n = "current";
  other.replaceChildren(current, ...known.filter((v) => v.name !== S.name).map((v) => new Option(v.name, v.name)));
  if (keep) other.value = keep;
}

// ------------------------------------------------------------------ suggest

async function suggest() {
  if (!getKey()) { say("need_key"); return; }
  const standard = $("standard").value;
  const p = Number($("nsites").value) || 1;
  const bar = $("progress");
  bar.hidden = false;
  bar.value = 0;
  $("proposals").replaceChildren();
  try {
    // on this plan's facilities (its edits included), not the city's own
    const job = await call(`/workbench/scenarios/${enc(S.name)}/siting`, { method: "POST", body: { standard, problem: "mclp", p } });
    const info = await waitJob(job.location || `/jobs/${job.body.id}`, job.body, (pc) => { bar.value = pc; })
      .catch((err) => { throw new Error(`${t("failed")}: ${err.message}`); });
    const doc = (S.siting = (await call(info.result)).body);
    const kind = S.city.standards.find((s) => s.id === standard).kinds[0];
    for (const site of doc.sites.features) showProposal(site, site.properties.kind || kind);
  } catch (err) {
    message(err.message);
  }
}

function showProposal(site, kind) {
  const [lon, lat] = site.geometry.coordinates;
  const gain = site.properties.newly_covered ?? "";
  const marker = L.marker([lat, lon], { icon: L.divIcon({ className: "", html: '<div class="lc-prop"></div>', iconSize: [18, 18] }) }).addTo(map);
  const li = document.createElement("li");
  li.className = "proposal";
  const acc = document.createElement("button"), rej = document.createElement("button");
  acc.dataset.i18n = "accept"; acc.textContent = t("accept");
  rej.dataset.i18n = "reject"; rej.textContent = t("reject");
  li.dataset.lon = lon;
  li.dataset.lat = lat;
  li.append(`${site.properties.site_id ?? ""} · ${t("newly")} ${gain === "" ? "?" : Math.round(gain).toLocaleString()} `, acc, " ", rej);
  const drop = () => { marker.remove(); li.remove(); };
  acc.onclick = async () => { if (await addAt(L.latLng(lat, lon), kind)) drop(); };
  rej.onclick = drop;
  $("proposals").append(li);
}

// ------------------------------------------------------------------ start

async function start() {
  applyLang(currentLang());
  S.city = (await call("/workbench/city")).body;
  fillSelects();
  const [w, s, e, n] = S.city.bounds;
  map.fitBounds([[s, w], [n, e]]);
  L.control.scale().addTo(map);
  const base = (await call("/workbench/base.geojson")).body;
  L.geoJSON({ type: "FeatureCollection", features: base.features.filter((f) => f.properties.layer === "network") }, {
    renderer: canvas,
    interactive: false,
    style: () => ({ color: "#8a8a8a", weight: 1, opacity: 0.9 }),
  }).addTo(map);
  initUnits(map, base);
  initSwipe(map);
  legend();
  map.on("click", (ev) => { select(null); addAt(ev.latlng); });
  const restyle = () => { message(""); legend(); repaint(); redrawSwipe(map); drawUnitDeltas(); drawGaps(map).catch((err) => message(err.message)); };
  $("standard").onchange = restyle;
  $("mode").onchange = restyle;
  $("access").onchange = restyle;
  $("unitrule").onchange = () => drawRatios().catch((err) => message(err.message));
  $("gaps").onchange = () => drawGaps(map).catch((err) => message(err.message));
  $("exportpng").onclick = () => download(map, "png");
  $("exportpdf").onclick = () => download(map, "pdf");
  $("undo").onclick = undo;
  $("redo").onclick = redo;
  $("delete").onclick = removeSelected;
  $("setcap").onclick = setCapacity;
  $("suggestgo").onclick = suggest;
  $("comparego").onclick = compareNow;
  $("lang").onclick = () => applyLang(currentLang() === "zh" ? "en" : "zh");
  $("keysave").onclick = () => { setKey($("key").value.trim()); $("key").value = ""; applyLang(currentLang()); };
  $("open").onclick = () => openScenario($("scenario").value.trim() || "workbench");
  await openScenario(new URLSearchParams(location.search).get("scenario") || "workbench");
  document.body.dataset.ready = "1";
  bench.ready = performance.now();
}

start().catch((err) => { message(err.message); document.body.dataset.ready = "error"; });
