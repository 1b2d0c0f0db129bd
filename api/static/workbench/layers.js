// Layers drawn over the cells from the scenario's facilities now: unit boundaries coloured by a ratio rule's
// pass / fail, and the largest gaps of the chosen standard. Both are redrawn after every edit.
import { call, enc } from "./api.js";
import { t } from "./i18n.js";
import { $, S, label, message } from "./state.js";

export const STATUS_COLOURS = { pass: "#1a9850", fail: "#d73027", "no demand": "#bdbdbd" };
const statusClass = (st) => `lc-unit lc-${(st || "none").replace(" ", "-")}`;

let units = null; // the unit polygons of the base layer, one SVG path each (classes name the status)
let gaps = null;

/** Keep the base layer's unit features to colour them later. */
export function initUnits(map, base) {
  const features = base.features.filter((f) => f.properties.layer === "unit");
  units = L.geoJSON({ type: "FeatureCollection", features }, {
    renderer: L.svg(),
    interactive: false,
    style: (f) => ({ color: "#333", weight: f.properties.level === "subdistrict" ? 2.5 : 1, fill: false,
      dashArray: f.properties.level === "subdistrict" ? null : "4 3", className: "lc-unit" }),
  }).addTo(map);
}

/** Fill the rule select with the rules of the scenario's latest version. */
function fillRules(rules) {
  const sel = $("unitrule");
  const keep = sel.value;
  const none = new Option(t("none"), "");
  none.dataset.i18n = "none";
  sel.replaceChildren(none, ...rules.map((r) => new Option(label(r), r.id)));
  sel.value = rules.some((r) => r.id === keep) ? keep : "";
}

/** Colour each unit of the chosen rule's level by its status; the other level's units drawn plain. */
export async function drawRatios() {
  if (!S.name || !S.version || !units) return;
  const r = await call(`/workbench/scenarios/${enc(S.name)}/ratios`);
  S.ratios = r.body;
  fillRules(r.body.rules);
  const rule = r.body.rules.find((x) => x.id === $("unitrule").value);
  units.eachLayer((layer) => {
    const p = layer.feature.properties;
    const el = layer.getElement();
    const status = rule && p.level === rule.level ? (rule.units[p.unit_id] || {}).status : null;
    const base = { color: "#333", weight: p.level === "subdistrict" ? 2.5 : 1, fill: false };
    if (status) {
      layer.setStyle({ ...base, color: STATUS_COLOURS[status], weight: 3, fill: true, fillColor: STATUS_COLOURS[status], fillOpacity: 0.15 });
      layer.bindTooltip(`${p.name}: ${rule.units[p.unit_id].message}`);
    } else {
      layer.setStyle(base);
      layer.unbindTooltip();
    }
    if (el) {
      el.setAttribute("class", statusClass(status)); // not interactive: a click on a unit adds a facility
      el.dataset.unit = p.unit_id;
      el.dataset.level = p.level;
      el.dataset.status = status || "";
    }
  });
  legendRatios(rule);
}

function legendRatios(rule) {
  const box = $("unitlegend");
  box.replaceChildren();
  box.className = "";
  if (!rule) return;
  // e.g. a clinic added without doctors (select it, set its capacity), or a city built without these boundaries
  if (rule.error) { box.textContent = t("rule_error", { detail: rule.error }); box.className = "hint"; return; }
  for (const st of ["pass", "fail", "no demand"]) {
    const d = document.createElement("div");
    d.innerHTML = `<span class="swatch" style="background:${STATUS_COLOURS[st]}"></span>`;
    const n = Object.values(rule.units).filter((u) => u.status === st).length;
    d.append(`${t(`st_${st.replace(" ", "_")}`)} (${n})`);
    box.append(d);
  }
}

/** The largest gaps of the chosen standard as dashed outlines (or none when the box is off). */
export async function drawGaps(map) {
  if (gaps) { gaps.remove(); gaps = null; }
  if (!$("gaps").checked || !S.name || !S.version) return;
  const std = $("standard").value;
  const r = await call(`/workbench/scenarios/${enc(S.name)}/gaps/${enc(std)}?top=5`);
  S.gaps = r.body;
  gaps = L.geoJSON(r.body, {
    renderer: L.svg(),
    interactive: true,
    style: () => ({ color: "#542788", weight: 2.5, dashArray: "6 4", fillColor: "#542788", fillOpacity: 0.12, className: "lc-gap" }),
    onEachFeature: (f, layer) => layer.bindTooltip(`#${f.properties.rank}: ${Math.round(f.properties.population).toLocaleString()} ${t("uncovered_people")}`),
  }).addTo(map);
}

/** Redraw the layers that depend on the facilities (after an edit, a reload). */
export function refreshLayers(map) {
  return Promise.all([drawRatios(), drawGaps(map)]).catch((err) => message(err.message));
}
