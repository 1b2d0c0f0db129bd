// Report: the print map (PNG or PDF) of the chosen standard on this plan, framed to the map's view, with the
// coverage table, made by the server's export (GET /workbench/scenarios/{name}/export.{fmt}) and downloaded.
import { callJob, enc } from "./api.js";
import { currentLang } from "./i18n.js";
import { $, S, message, say } from "./state.js";

/** The export URL of the current scenario, standard, language and view. */
export function exportUrl(map, fmt) {
  const b = map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  return `/workbench/scenarios/${enc(S.name)}/export.${fmt}?standard=${enc($("standard").value)}&bbox=${bbox}&lang=${currentLang()}`;
}

/** Ask the server for the export and save it as a file. */
export async function download(map, fmt) {
  if (!S.name || !S.version) return;
  const button = $(`export${fmt}`);
  button.disabled = true;
  say("exporting", {}, "info");
  try {
    // made in the request, or on a large city as a background job (202) whose result is this same URL
    const r = await callJob(exportUrl(map, fmt), { raw: true });
    const blob = await r.blob();
    S.lastExport = { status: r.status, type: blob.type, size: blob.size, version: S.version };
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${S.name}-v${S.version}-${$("standard").value}.${fmt}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    message("");
  } catch (err) {
    message(err.message);
  } finally {
    button.disabled = false;
  }
}
