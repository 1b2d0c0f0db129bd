// Labels of the workbench in English and Simplified Chinese; every element with
// data-i18n="key" shows LABELS[lang][key].
export const LABELS = {
  en: {
    title: "Planner's workbench", scenario: "Scenario", open: "Open", lang: "中文", key: "API key", keysave: "Use key",
    layers: "Map", standard: "Standard", colour: "Colour by", covered_mode: "covered / not covered", bands_mode: "walk-time bands",
    plan: "Plan by hand", addkind: "Click the map to add", undo: "Undo", redo: "Redo", selected: "Selected",
    beds: "Beds", doctors: "Doctors", setcap: "Set capacity", delete: "Delete", numbers: "Coverage now",
    th_standard: "Standard", th_covered: "Covered", th_share: "Share", th_changed: "Changed cells",
    suggest: "Suggest sites", nsites: "Sites", suggestgo: "Suggest", compare: "Compare", against: "Against",
    comparego: "Compare", th_before: "Before", th_after: "After", th_delta: "Change", export: "Export",
    exportmap: "Change map (HTML)", exportcsv: "Comparison table (CSV)",
    current: "current facilities", covered: "covered", not_covered: "not covered", version: "version",
    key_set: "key set for this browser session", key_none: "no key: you can look, not edit",
    conflict: "Conflict: someone else changed this scenario (now version {v}). Your edit was not saved. Reload to see their changes.",
    reload: "Reload", need_key: "Enter the API key to edit.",
    need_key_new: "There is no scenario '{name}' yet: enter the API key to create it.",
    read_only: "There is no scenario '{asked}'; showing '{name}', read only (enter the API key to edit or create).", created: "Scenario created.", accept: "Accept", reject: "Reject",
    newly: "newly covers", running: "running", failed: "failed", generated: "generated district, not a real place",
    access_mode: "E2SFCA accessibility", access_std: "Accessibility standard", out_of_reach: "out of reach",
    under_served: "under-served", served: "served", unitrule: "Units by ratio rule", none: "none", gaps: "Largest gaps",
    uncovered_people: "people not covered", st_pass: "pass", st_fail: "fail", st_no_demand: "no demand",
    level: "Units", swipe: "Swipe view (other plan on the left)", per_unit: "Per unit (chosen standard)", th_unit: "Unit",
    exportpng: "View as PNG", exportpdf: "View as PDF", exporting: "Exporting the view…",
    level_subdistrict: "subdistricts", level_community: "communities",
    no_units: "This city was built without unit boundaries: no per-unit figures or ratio rules.",
    tile_problem: "The map cannot draw this layer: {detail}",
    rule_error: "This rule cannot be checked: {detail}",
  },
  zh: {
    title: "规划工作台", scenario: "方案", open: "打开", lang: "English", key: "API 密钥", keysave: "使用密钥",
    layers: "地图", standard: "标准", colour: "着色方式", covered_mode: "覆盖 / 未覆盖", bands_mode: "步行时间分段",
    plan: "手动规划", addkind: "点击地图新增", undo: "撤销", redo: "重做", selected: "已选设施",
    beds: "床位", doctors: "医生", setcap: "设置规模", delete: "删除", numbers: "当前覆盖",
    th_standard: "标准", th_covered: "覆盖人口", th_share: "覆盖率", th_changed: "变化网格",
    suggest: "推荐选址", nsites: "数量", suggestgo: "推荐", compare: "方案比较", against: "对比方案",
    comparego: "比较", th_before: "之前", th_after: "之后", th_delta: "变化", export: "导出",
    exportmap: "变化地图（HTML）", exportcsv: "比较表（CSV）",
    current: "现状设施", covered: "已覆盖", not_covered: "未覆盖", version: "版本",
    key_set: "本次浏览会话已设置密钥", key_none: "未设置密钥：只能查看，不能编辑",
    conflict: "冲突：他人已修改此方案（当前版本 {v}），您的修改未保存。请重新加载查看对方的修改。",
    reload: "重新加载", need_key: "请输入 API 密钥后再编辑。",
    need_key_new: "尚无方案“{name}”：请输入 API 密钥以创建。",
    read_only: "没有方案“{asked}”，现显示“{name}”（只读；输入 API 密钥后可编辑或新建）。", created: "已创建方案。", accept: "采纳", reject: "放弃",
    newly: "新增覆盖", running: "运行中", failed: "失败", generated: "生成的示例城区，并非真实地点",
    access_mode: "E2SFCA 可达性", access_std: "可达性标准", out_of_reach: "服务范围外",
    under_served: "服务不足", served: "服务达标", unitrule: "按配建指标显示单元", none: "不显示", gaps: "最大缺口",
    uncovered_people: "人未覆盖", st_pass: "达标", st_fail: "不达标", st_no_demand: "无需求",
    level: "单元", swipe: "卷帘对比（对比方案在左）", per_unit: "分单元（当前标准）", th_unit: "单元",
    exportpng: "导出当前视图（PNG）", exportpdf: "导出当前视图（PDF）", exporting: "正在导出当前视图…",
    level_subdistrict: "街道", level_community: "社区",
    no_units: "本城市建立时未提供单元边界：无分单元数据和配建指标。",
    tile_problem: "地图无法绘制此图层：{detail}",
    rule_error: "无法检查此指标：{detail}",
  },
};

let lang = sessionStorage.getItem("lc-lang") || "en";

/** The current language, "en" or "zh". */
export function currentLang() { return lang; }

/** The label of `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  let text = LABELS[lang][key] ?? LABELS.en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replace(`{${k}}`, v);
  return text;
}

/** Switch the language and relabel every data-i18n element under `root`. */
export function setLang(next, root = document) {
  lang = next;
  sessionStorage.setItem("lc-lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.title = t("title");
}
