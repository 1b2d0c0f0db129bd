// What the workbench's modules share: the page state, element lookup, labels and the message box.
import { headers } from "./api.js";
import { currentLang, t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export const S = {
  city: null, name: "", version: 0, standards: {}, facilities: new Map(), markers: new Map(),
  undo: [], redo: [], selected: null, busy: false,
};
window.lcWorkbench = S; // for tests and the benchmark

/** An item's label ({en, zh}) in the current language. */
export function label(item) { return currentLang() === "zh" ? item.zh : item.en; }

/** A message from the page's own labels, kept so that the language toggle relabels it too. */
export function say(key, vars = {}, kind = "error", action = null) {
  message(t(key, vars), kind, action);
  S.said = { key, vars, kind, action };
}

/** A message in the box (a server's, or none with ""). */
export function message(text, kind = "error", action = null) {
  S.said = null;
  const box = $("msg");
  box.hidden = !text;
  box.className = kind;
  box.textContent = text || "";
  if (action) {
    const b = document.createElement("button");
    b.textContent = t(action.label);
    b.onclick = action.run;
    box.append(" ", b);
  }
}

// Tiles fetched with the API key in a header (an <img> cannot send one). `url(coords)` names a tile;
// refresh() fetches one tile again into its <img> (a newer request wins over an older one still loading).
export const CellTiles = L.GridLayer.extend({
  initialize(url, options) {
    this.urlFor = url;
    L.GridLayer.prototype.initialize.call(this, options);
  },
  createTile(coords, done) {
    const img = document.createElement("img");
    img.alt = "";
    this.load(img, coords).then(() => done(null, img), (err) => done(err, img));
    return img;
  },
  load(img, coords) {
    const ticket = (img.lcTicket = (img.lcTicket || 0) + 1);
    return fetch(this.urlFor(coords), { headers: headers() })
      .then((r) => (r.ok ? r.blob() : this.problem(r)))
      .then((blob) => new Promise((resolve, reject) => {
        if (ticket !== img.lcTicket) { resolve(); return; } // a newer request owns this tile
        const url = URL.createObjectURL(blob);
        img.onload = () => { URL.revokeObjectURL(url); resolve(); };
        img.onerror = reject;
        img.src = url;
      }));
  },
  // A tile the server refuses (e.g. E2SFCA on facilities without the capacity it counts): its reason, once per layer,
  // to options.onProblem (the page's message box), instead of a blank map.
  problem(r) {
    const fail = () => Promise.reject(new Error(`tile ${r.status}`));
    if (this.told || !this.options.onProblem) return fail();
    this.told = true;
    return r.json().catch(() => ({ detail: `HTTP ${r.status}` })).then((p) => { this.options.onProblem(p); return fail(); });
  },
  /** Fetch again the tiles in view at (x, y) of `keys` ("x:y"); resolves when they are drawn. */
  refresh(keys) {
    const jobs = [];
    for (const tile of Object.values(this._tiles || {})) {
      const c = tile.coords;
      if (c.z === this._tileZoom && keys.has(`${c.x}:${c.y}`)) jobs.push(this.load(tile.el, c));
    }
    return Promise.all(jobs).then(() => jobs.length);
  },
});
