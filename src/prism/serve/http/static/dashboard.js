// PRISM dashboard: signs in with a key kept in this tab's sessionStorage, reads GET /api/v1/dashboard,
// and draws every chart as SVG. Data only ever reaches the page through textContent and SVG attributes
// (never innerHTML), and the page's CSP allows no script but this file.
"use strict";

(function () {
  const DATA_URL = "/api/v1/dashboard";
  const STORAGE_KEY = "prism.dashboard.credential";
  const REFRESH_MS = 30000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  // The original PRISM's performance targets.
  const TARGETS = { errorRate: 0.005, cacheHitRate: 0.8, p95Ms: 1000, savingsRate: 0.4 };
  const COLORS = { served: "#4f6bed", saved: "#1f9d6b", errors: "#d64545", cache: "#2d8fd5" };

  const $ = (id) => document.getElementById(id);
  let timer = null;

  // -- small DOM helpers --------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function titled(node, text) {
    node.append(svg("title", {}, text));
    return node;
  }

  function empty(target, message, command) {
    target.replaceChildren(el("div", { class: "empty" }, el("p", {}, message),
      command ? el("code", {}, command) : null));
  }

  // -- formatting ---------------------------------------------------------------------------

  const whole = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
  const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });

  function num(n) { return n === null || n === undefined ? "–" : whole.format(n); }
  function short(n) { return compact.format(n); }
  function pct(r, digits) {
    if (r === null || r === undefined) return "–";
    const value = r * 100;
    return (value >= 10 || value === 0 ? value.toFixed(digits ?? 0) : value.toFixed(Math.max(1, digits ?? 1))) + " %";
  }
  function ms(v) {
    if (v === null || v === undefined) return "–";
    return v >= 1000 ? (v / 1000).toFixed(2) + " s" : (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + " ms";
  }
  function seconds(le) {
    if (le === null) return "more";
    return le >= 1 ? "≤" + le + " s" : "≤" + Math.round(le * 1000) + " ms";
  }
  function age(s) {
    if (s === null || s === undefined) return "never";
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }
  function dayLabel(day) { return day.slice(5); }

  // A y scale for counts: about four steps of 1, 2 or 5 × 10^k (never a fraction of one).
  function scale(max) {
    const rough = Math.max(1, max / 4);
    const power = Math.pow(10, Math.floor(Math.log10(rough)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
    const ticks = Math.max(1, Math.ceil(max / step));
    return { max: ticks * step, ticks };
  }

  // -- charts -------------------------------------------------------------------------------

  const NARROW = 640, WIDE = 1220, H = 220, PAD = { left: 48, right: 12, top: 12, bottom: 28 };
  let W = NARROW; // the width of the chart being drawn: wide charts keep the text the same size

  function frame(yMax, format, ticks, width) {
    W = width || NARROW;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img" });
    const inner = H - PAD.top - PAD.bottom;
    for (let i = 0; i <= ticks; i++) {
      const y = PAD.top + inner - (inner * i) / ticks;
      root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: i ? "grid" : "axis" }));
      root.append(svg("text", { x: PAD.left - 6, y: y + 4, class: "tick", "text-anchor": "end" },
        format((yMax * i) / ticks)));
    }
    return root;
  }

  function yOf(value, yMax) {
    const inner = H - PAD.top - PAD.bottom;
    return PAD.top + inner - (inner * value) / yMax;
  }

  function xLabels(root, days, slot) {
    days.forEach((d, i) => {
      if (days.length > 8 && i % 2 !== (days.length - 1) % 2) return; // every other day, always today
      root.append(svg("text", { x: PAD.left + slot * (i + 0.5), y: H - 8, class: "tick", "text-anchor": "middle" },
        dayLabel(d.day)));
    });
  }

  function tokenChart(days) {
    const target = $("chart-tokens");
    const legend = $("legend-tokens");
    const served = days.reduce((a, d) => a + d.tokens_served, 0);
    const saved = days.reduce((a, d) => a + d.tokens_saved, 0);
    legend.replaceChildren(swatch("served", COLORS.served), swatch("saved", COLORS.saved));
    if (!served && !saved) {
      empty(target, `No context packed in the last ${days.length} days. Tokens are counted when a client ` +
        "asks for context:", "POST /api/v1/projects/{project}/context");
      return;
    }
    const y = scale(Math.max(...days.map((d) => Math.max(d.tokens_served, d.tokens_saved))));
    const yMax = y.max;
    const root = frame(yMax, short, y.ticks, WIDE);
    const slot = (W - PAD.left - PAD.right) / days.length;
    const bar = Math.min(22, slot * 0.34);
    days.forEach((d, i) => {
      const mid = PAD.left + slot * (i + 0.5);
      for (const [value, kind, dx] of [[d.tokens_served, "served", -bar - 1], [d.tokens_saved, "saved", 1]]) {
        if (!value) continue;
        const y = yOf(value, yMax);
        root.append(titled(svg("rect", { x: mid + dx, y, width: bar, height: yOf(0, yMax) - y, rx: 2,
          fill: COLORS[kind], class: "bar " + kind }), `${d.day}: ${num(value)} tokens ${kind}`));
      }
    });
    xLabels(root, days, slot);
    target.replaceChildren(root);
  }

  function rateChart(days) {
    const target = $("chart-rates");
    $("legend-rates").replaceChildren(swatch("errors (5xx)", COLORS.errors), swatch("cache hits", COLORS.cache),
      swatch("target 80 %", "#8a63d2", true));
    if (!days.some((d) => d.requests)) {
      $("rates-table").replaceChildren();
      empty(target, `No requests in the last ${days.length} days. Once clients search or ask for context, ` +
        "the daily rates appear here.");
      return;
    }
    const root = frame(1, (v) => Math.round(v * 100) + "%", 4);
    const slot = (W - PAD.left - PAD.right) / days.length;
    const goal = yOf(TARGETS.cacheHitRate, 1);
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: goal, y2: goal, class: "target" }));
    for (const [field, kind] of [["error_rate", "errors"], ["cache_hit_rate", "cache"]]) {
      let path = "";
      let pen = "M";
      days.forEach((d, i) => {
        const value = d[field];
        if (value === null) { pen = "M"; return; }
        const x = PAD.left + slot * (i + 0.5), y = yOf(value, 1);
        path += `${pen}${x.toFixed(1)},${y.toFixed(1)} `;
        pen = "L";
        root.append(titled(svg("circle", { cx: x, cy: y, r: 3.5, fill: COLORS[kind], class: "point " + kind }),
          `${d.day}: ${pct(value, 1)} ${kind === "errors" ? "errors" : "cache hits"}`));
      });
      if (path) root.insertBefore(svg("path", { d: path.trim(), stroke: COLORS[kind], class: "line " + kind }),
        root.querySelector("circle"));
    }
    xLabels(root, days, slot);
    target.replaceChildren(root);
    rateTable(days);
  }

  // Today beside the whole window: the rates, and what was refused with 429.
  function rateTable(days) {
    const today = days[days.length - 1];
    const sum = (field) => days.reduce((a, d) => a + d[field], 0);
    const share = (part, whole) => (whole ? part / whole : null);
    const rows = [
      ["Error rate (5xx)", pct(today.error_rate, 1), pct(share(sum("errors"), sum("requests")), 1)],
      ["Cache hit rate", pct(today.cache_hit_rate), pct(share(sum("cache_hits"), sum("cache_hits") + sum("cache_misses")))],
      ["Rate limited (429)", num(today.rate_limited), num(sum("rate_limited"))],
      ["Over quota (429)", num(today.quota_refused), num(sum("quota_refused"))],
    ];
    $("rates-table").replaceChildren(el("table", { class: "numbers" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "today"), el("th", {}, `${days.length} days`))),
      el("tbody", {}, ...rows.map(([name, now, all]) => el("tr", {}, el("th", {}, name), el("td", {}, now),
        el("td", {}, all))))));
  }

  function latencyChart(latency, missing) {
    const target = $("chart-latency"), table = $("latency-table");
    $("legend-latency").textContent = latency ? "every API request since the server started" : "";
    if (!latency) {
      table.replaceChildren();
      empty(target, "This credential lacks metrics.read, so latency is hidden. Sign in with a key that holds it.");
      return;
    }
    const api = latency.api;
    if (!api.count) {
      table.replaceChildren();
      empty(target, "No API requests since the server started (the dashboard's own are left out). Searches " +
        "and context packs fill this histogram.");
      return;
    }
    const y = scale(Math.max(...api.buckets.map((b) => b.count)));
    const yMax = y.max;
    const root = frame(yMax, short, y.ticks);
    const slot = (W - PAD.left - PAD.right) / api.buckets.length;
    api.buckets.forEach((b, i) => {
      const x = PAD.left + slot * i + slot * 0.15;
      if (b.count) {
        const y = yOf(b.count, yMax);
        root.append(titled(svg("rect", { x, y, width: slot * 0.7, height: yOf(0, yMax) - y, rx: 2,
          class: "bar latency" + (b.le !== null && b.le > 1 ? " slow" : "") }), `${seconds(b.le)}: ${num(b.count)}`));
      }
      root.append(svg("text", { x: x + slot * 0.35, y: H - 8, class: "tick", "text-anchor": "middle" },
        seconds(b.le).replace("≤", "")));
    });
    target.replaceChildren(root);
    const rows = [["All API requests", api], ["Search", latency.search], ["Context", latency.context]];
    table.replaceChildren(el("table", { class: "numbers" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "requests"), el("th", {}, "p50"),
        el("th", {}, "p95"))),
      el("tbody", {}, ...rows.map(([name, row]) => el("tr", {}, el("th", {}, name), el("td", {}, num(row.count)),
        el("td", {}, ms(row.p50_ms)),
        el("td", { class: row.p95_ms !== null && row.p95_ms > TARGETS.p95Ms ? "bad" : "" }, ms(row.p95_ms)))))));
  }

  function quotaBars(quotas) {
    const target = $("quotas");
    $("legend-quotas").replaceChildren(swatch("target", "#8a63d2", true), swatch("alert", "#e0a100", true));
    if (!quotas.length) {
      empty(target, "No quotas are configured: every resource is unlimited. To set daily limits with a target " +
        "and an alert threshold, set PRISM_QUOTAS and restart the server, e.g.",
        'PRISM_QUOTAS=\'[{"resource": "searches", "per": "key", "limit": 10000, "target": 5000, "alert": "80%"}]\'');
      return;
    }
    const list = el("ul", { class: "quotas" });
    for (const q of quotas) {
      const scale = Math.max(q.limit, q.used);
      const level = q.used >= q.limit ? "over" : q.used >= q.alert ? "alert" : "ok";
      const bar = svg("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", class: "meter" });
      bar.append(svg("rect", { x: 0, y: 0, width: 100, height: 10, rx: 2, class: "track" }));
      bar.append(titled(svg("rect", { x: 0, y: 0, width: (100 * q.used) / scale, height: 10, rx: 2,
        class: "fill " + level }), `${num(q.used)} of ${num(q.limit)}`));
      for (const [value, kind] of [[q.target, "target"], [q.alert, "alert"]]) {
        if (value === null || value === undefined) continue;
        const x = (100 * value) / scale;
        bar.append(titled(svg("line", { x1: x, x2: x, y1: -1, y2: 11, class: "mark " + kind,
          "vector-effect": "non-scaling-stroke" }), `${kind}: ${num(value)}`));
      }
      const who = q.per === "server" ? "the whole server" : q.per === "key" ? `credential ${q.subject}` :
        `project ${q.subject}`;
      const resource = q.resource.replace("_", " ");
      list.append(el("li", { class: level },
        el("div", { class: "quota-head" }, el("span", { class: "quota-name" }, resource[0].toUpperCase() + resource.slice(1),
          el("small", {}, ` per ${who}`)),
        el("span", { class: "quota-used" }, `${num(q.used)} / ${num(q.limit)}`, el("small", {}, ` ${q.percent} %`))),
        bar,
        el("div", { class: "quota-foot" }, q.target !== null ? `target ${num(q.target)}` : "no target",
          ` · alert at ${num(q.alert)}`, level === "over" ? " · limit reached: requests get 429 until 00:00 UTC" :
            level === "alert" ? " · past the alert threshold" : "")));
    }
    target.replaceChildren(list);
  }

  function indexTable(indexes) {
    const target = $("indexes");
    if (!indexes.length) {
      empty(target, "No projects yet. Create one and upload its files, then it is listed here with the age " +
        "of its index:", "POST /api/v1/projects {\"name\": \"web\"}");
      return;
    }
    const body = indexes.map((row) => {
      const fresh = row.age_s === null ? "never" : row.age_s < 86400 ? "fresh" : row.age_s < 7 * 86400 ? "aging" : "stale";
      return el("tr", {}, el("th", {}, row.project),
        el("td", {}, el("span", { class: "pill " + (row.indexed ? fresh : "never") }, row.indexed ? age(row.age_s) :
          row.state === "new" ? "not indexed yet" : row.state.replace("_", " "))),
        el("td", {}, num(row.files)), el("td", {}, num(row.chunks)));
    });
    target.replaceChildren(el("table", { class: "numbers" },
      el("thead", {}, el("tr", {}, el("th", {}, "project"), el("th", {}, "indexed"), el("th", {}, "files"),
        el("th", {}, "chunks"))), el("tbody", {}, ...body)));
  }

  function auditTable(events) {
    const target = $("audit");
    if (events === null) {
      empty(target, "This credential lacks audit.read, so the audit log is hidden. Sign in with a key that holds it.");
      return;
    }
    if (!events.length) {
      empty(target, "No audit events yet. Creating, rotating or revoking keys and creating or deleting " +
        "projects is recorded here.");
      return;
    }
    target.replaceChildren(el("table", { class: "events" },
      el("thead", {}, el("tr", {}, el("th", {}, "when (UTC)"), el("th", {}, "event"), el("th", {}, "target"),
        el("th", {}, "by"), el("th", {}, "from"))),
      el("tbody", {}, ...events.map((e) => el("tr", {}, el("td", {}, e.time.replace("T", " ").replace("Z", "")),
        el("td", {}, el("span", { class: "event " + e.event.split(".")[1] }, e.event)), el("td", {}, e.target),
        el("td", {}, e.principal), el("td", {}, e.address || "–"))))));
  }

  function swatch(label, color, dashed) {
    const box = svg("svg", { viewBox: "0 0 14 10", width: 14, height: 10, class: "swatch" });
    box.append(dashed ? svg("line", { x1: 0, x2: 14, y1: 5, y2: 5, stroke: color, "stroke-width": 2,
      "stroke-dasharray": "3 2" }) : svg("rect", { x: 0, y: 0, width: 14, height: 10, rx: 2, fill: color }));
    return el("span", { class: "key" }, box, label);
  }

  function tile(label, value, sub, state) {
    return el("div", { class: "tile" + (state ? " " + state : "") }, el("div", { class: "label" }, label),
      el("div", { class: "value" }, value), el("div", { class: "sub" }, sub));
  }

  function tiles(data) {
    const today = data.days[data.days.length - 1];
    const sum = (field) => data.days.reduce((a, d) => a + d[field], 0);
    const lookups = today.cache_hits + today.cache_misses;
    const api = data.latency ? data.latency.api : null;
    const judge = (value, good) => value === null || value === undefined ? "" : good(value) ? "good" : "bad";
    $("tiles").replaceChildren(
      tile("Tokens served today", num(today.tokens_served), `${short(sum("tokens_served"))} in ${data.days.length} days`),
      tile("Tokens saved today", num(today.tokens_saved),
        today.savings_rate === null ? "of whole files: nothing packed yet" : `${pct(today.savings_rate)} of whole files · target > 40 %`,
        judge(today.savings_rate, (r) => r >= TARGETS.savingsRate)),
      tile("Requests today", num(today.requests), `${num(today.searches)} searches · ${num(today.context_packs)} packs` +
        (today.rate_limited + today.quota_refused ? ` · ${num(today.rate_limited + today.quota_refused)} refused (429)` : "")),
      tile("Error rate today", pct(today.error_rate, 1), `${num(today.errors)} errors (5xx) · target < 0.5 %`,
        judge(today.error_rate, (r) => r < TARGETS.errorRate)),
      tile("Latency p95", api && api.count ? ms(api.p95_ms) : "–",
        !data.latency ? "needs metrics.read" : api.count ? `p50 ${ms(api.p50_ms)} · API, since start · target < 1 s` :
          "no API requests yet since the server started",
        api && api.count ? judge(api.p95_ms, (v) => v < TARGETS.p95Ms) : ""),
      tile("Cache hit rate today", pct(today.cache_hit_rate), lookups ? `${num(today.cache_hits)} of ${num(lookups)} lookups · target > 80 %` :
        "no cached searches or packs yet", judge(today.cache_hit_rate, (r) => r >= TARGETS.cacheHitRate)));
  }

  function render(data) {
    tiles(data);
    tokenChart(data.days);
    rateChart(data.days);
    latencyChart(data.latency, data.missing);
    quotaBars(data.quotas);
    indexTable(data.indexes);
    auditTable(data.audit);
    $("who").textContent = data.principal;
    $("updated").textContent = "updated " + new Date(data.generated_at * 1000).toISOString().slice(11, 19) + " UTC";
    document.body.dataset.state = "ready";
  }

  // -- session ------------------------------------------------------------------------------

  async function fetchData(credential) {
    const response = await fetch(DATA_URL, { headers: { Authorization: "Bearer " + credential },
      cache: "no-store", credentials: "omit", redirect: "error" });
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    return { status: response.status, body };
  }

  function reason(result) {
    const error = result.body && result.body.error;
    if (!error) return `The server answered ${result.status}.`;
    return error.message + (error.details && error.details.hint ? " " + error.details.hint : "");
  }

  function showSignin(message) {
    clearInterval(timer);
    timer = null;
    $("board").hidden = true;
    $("session").hidden = true;
    $("signin").hidden = false;
    const error = $("signin-error");
    error.hidden = !message;
    error.textContent = message || "";
    document.body.dataset.state = "signin";
    $("key").focus();
  }

  async function load() {
    const credential = sessionStorage.getItem(STORAGE_KEY);
    if (!credential) { showSignin(); return; }
    let result;
    try {
      result = await fetchData(credential);
    } catch (_) {
      $("load-error").hidden = false;
      $("load-error").textContent = "The server did not answer; retrying every 30 s.";
      return;
    }
    if (result.status === 401 || result.status === 403) {
      sessionStorage.removeItem(STORAGE_KEY);
      showSignin(reason(result));
      return;
    }
    if (result.status !== 200) {
      $("load-error").hidden = false;
      $("load-error").textContent = reason(result);
      return;
    }
    $("load-error").hidden = true;
    $("signin").hidden = true;
    $("board").hidden = false;
    $("session").hidden = false;
    render(result.body);
    if (timer === null) timer = setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("key");
    const credential = input.value.trim();
    if (!credential) return;
    $("signin-button").disabled = true;
    try {
      const result = await fetchData(credential);
      if (result.status !== 200) {
        showSignin(result.status === 401 || result.status === 403 ? reason(result) :
          `Could not sign in: ${reason(result)}`);
        return;
      }
      sessionStorage.setItem(STORAGE_KEY, credential);
      input.value = "";
      await load();
    } catch (_) {
      showSignin("The server did not answer. Is it running?");
    } finally {
      $("signin-button").disabled = false;
    }
  }

  function signOut() {
    sessionStorage.removeItem(STORAGE_KEY);
    for (const id of ["tiles", "chart-tokens", "chart-rates", "rates-table", "chart-latency", "latency-table", "quotas",
      "indexes", "audit", "who"]) $(id).replaceChildren();
    showSignin();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    $("refresh").addEventListener("click", () => load());
    load();
  });
})();
