// ml-connector status page: reads /api/status and draws the flows table, the
// chart of records per run (inline SVG), dead letters and halted flows'
// to-dos. No library: the page must work without network access.
"use strict";

const SERIES = [
  ["delivered", "var(--delivered)"],
  ["linked", "var(--linked)"],
  ["unchanged", "var(--unchanged)"],
  ["skipped", "var(--skipped)"],
  ["deferred", "var(--deferred)"],
  ["parked", "var(--parked)"],
  ["dead", "var(--dead)"],
];
// Every count of a run, as the flows table shows it (last run).
const COUNTS = ["read", "delivered", "linked", "unchanged", "parked", "dead", "skipped", "deferred", "unreadable"];
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function short(ms) {
  return new Date(ms).toISOString().slice(5, 19).replace("T", " ");
}

function relative(ms, now) {
  if (!ms) return "—";
  const s = Math.round((ms - now) / 1000);
  if (Math.abs(s) < 5) return "now";
  const abs = Math.abs(s);
  const text = abs < 120 ? abs + " s" : abs < 7200 ? Math.round(abs / 60) + " min" : Math.round(abs / 3600) + " h";
  return s > 0 ? "in " + text : text + " ago";
}

function renderFlows(status) {
  const body = document.querySelector("#flows tbody");
  body.replaceChildren();
  for (const f of status.flows) {
    const run = f.last_run || {};
    const ledgerTotal = Object.values(f.ledger).reduce((a, b) => a + b, 0);
    const ledgerTitle = Object.entries(f.ledger).map(([k, v]) => k + " " + v).join(", ") || "empty";
    const next = !f.enabled ? "disabled" : f.next_run_ms == null ? f.schedule : relative(f.next_run_ms, status.generated_ms);
    const row = el("tr", { "data-flow": f.flow, "data-tenant": f.tenant },
      el("td", {}, el("strong", {}, f.flow), el("br"), el("span", { class: "muted" }, f.tenant + ": " + f.from + " → " + f.to)),
      el("td", {}, el("span", { class: "badge state-" + f.state }, f.state), ...running(f, status.generated_ms)),
      el("td", {}, f.schedule),
      f.last_run
        ? el("td", { class: "nowrap", title: when(run.finished_ms) },
            short(run.finished_ms), el("br"),
            el("span", { class: "muted" }, ((run.finished_ms - run.started_ms) / 1000).toFixed(1) + " s, " + run.outcome))
        : el("td", {}, "never"),
      ...COUNTS.map((k) => el("td", { class: "num", "data-count": k }, f.last_run ? (run[k] ?? 0) : "—")),
      el("td", { class: "num", title: ledgerTitle }, ledgerTotal),
      el("td", {}, next));
    body.append(row);
  }
}

// Who holds the flow's lease: the process running it now (or a lapsed
// holder that died; the next process to look takes the flow over).
function running(f, now) {
  const l = f.running;
  if (!l) return [];
  const who = l.holder.command + " (pid " + l.holder.pid + " on " + l.holder.host + ")";
  const text = f.lease_lapsed
    ? "lease lapsed: " + who + ", taken over at the next run"
    : "running in " + who + " since " + relative(l.acquired_ms, now);
  return [el("br"), el("span", { class: "muted lease", "data-lease": f.lease_lapsed ? "lapsed" : "held", title: "lease token " + l.token + ", expires " + when(l.expires_ms) }, text)];
}

function renderHalted(status) {
  const halted = status.flows.filter((f) => f.halted !== null && f.halted !== undefined);
  const box = document.getElementById("halted");
  box.replaceChildren();
  document.getElementById("halted-section").hidden = halted.length === 0;
  for (const f of halted) {
    const list = el("ul", { class: "todo" });
    for (const item of f.todo) list.append(el("li", {}, item));
    box.append(el("div", { class: "halted-flow", "data-flow": f.flow },
      el("h3", {}, f.tenant + " / " + f.flow), list,
      el("p", { class: "muted" }, "Then wait for the next scheduled run, or run it now with ",
        el("code", {}, "ml-connector sync --flow " + f.flow + " --wait"),
        " (it waits while another process runs the flow; never a second writer).")));
  }
}

function renderChart(status) {
  const runs = status.history.slice(-60);
  const box = document.getElementById("chart-box");
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  if (runs.length === 0) return;
  box.replaceChildren();
  const W = 1180, H = 300, left = 48, right = 10, top = 12, bottom = 74;
  const total = (r) => SERIES.reduce((a, [k]) => a + (r[k] || 0), 0);
  const raw = Math.max(4, ...runs.map((r) => Math.max(total(r), r.read)));
  // A round top (1, 2 or 5 times a power of ten) gives round tick labels.
  const step = Math.pow(10, Math.floor(Math.log10(raw / 4)));
  const max = [1, 2, 5, 10].map((m) => m * step * 4).find((m) => m >= raw);
  const scale = (v) => (v / max) * (H - top - bottom);
  const chart = svg("svg", { id: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "records per run" });
  const ticks = 4;
  for (let i = 0; i <= ticks; i++) {
    const v = Math.round((max * i) / ticks);
    const y = H - bottom - scale(v);
    chart.append(svg("line", { x1: left, x2: W - right, y1: y, y2: y, stroke: "#dde2e8" }));
    chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7480" }, v));
  }
  const slot = (W - left - right) / runs.length;
  const width = Math.max(2, Math.min(40, slot * 0.7));
  runs.forEach((r, i) => {
    const x = left + i * slot + (slot - width) / 2;
    let y = H - bottom;
    const group = svg("g", { class: "run", "data-flow": r.flow, "data-started": r.started_ms });
    group.append(svg("title", {}, `${r.flow} at ${when(r.started_ms)}: ` + COUNTS.map((k) => `${k} ${r[k] ?? 0}`).join(", ") + `, retries ${r.retries} (${r.outcome})`));
    for (const [key, color] of SERIES) {
      const h = scale(r[key] || 0);
      if (h <= 0) continue;
      y -= h;
      group.append(svg("rect", { class: "bar bar-" + key, x, y, width, height: h, fill: color }));
    }
    // The records read, as a tick above or across the stack.
    const ry = H - bottom - scale(r.read);
    group.append(svg("line", { class: "read-mark", x1: x - 2, x2: x + width + 2, y1: ry, y2: ry, stroke: "#1d2430", "stroke-width": 2 }));
    if (slot >= 14) {
      const label = r.flow.replace(/-to-/, "→").replace("purchase-orders", "POs").slice(0, 20);
      group.append(svg("text", { x: x + width / 2, y: H - bottom + 12, "font-size": 10, fill: "#6b7480",
        transform: `rotate(35 ${x + width / 2} ${H - bottom + 12})` }, label));
    }
    chart.append(group);
  });
  chart.append(svg("line", { x1: left, x2: W - right, y1: H - bottom, y2: H - bottom, stroke: "#6b7480" }));
  box.append(chart);
  for (const [key, color] of SERIES) legend.append(el("span", {}, Object.assign(el("i"), { style: "background:" + color }), key));
  legend.append(el("span", {}, Object.assign(el("i"), { style: "background:#1d2430;height:2px" }), "read"));
}

function renderDeadLetters(status) {
  const table = document.getElementById("dead-letters");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  table.hidden = status.dead_letters.length === 0;
  document.getElementById("dead-empty").hidden = status.dead_letters.length !== 0;
  for (const d of status.dead_letters) {
    body.append(el("tr", {}, el("td", {}, d.tenant + " / " + d.flow), el("td", {}, el("code", {}, d.key)),
      el("td", {}, d.reason), el("td", {}, when(d.updated_ms))));
  }
}

async function refresh() {
  try {
    const reply = await fetch("/api/status", { cache: "no-store" });
    if (!reply.ok) throw new Error("HTTP " + reply.status);
    const status = await reply.json();
    const halted = status.flows.filter((f) => f.state === "halted").length;
    document.getElementById("subtitle").textContent =
      `${status.flows.length} flows from ${status.manifest}; ${halted} halted; ` +
      `${status.dead_letters.length} dead letters; as of ${when(status.generated_ms)}`;
    renderHalted(status);
    renderFlows(status);
    renderChart(status);
    renderDeadLetters(status);
    document.body.dataset.rendered = "true";
  } catch (e) {
    document.getElementById("subtitle").textContent = "Cannot read /api/status: " + e.message;
    document.body.dataset.rendered = "error";
  }
}

refresh();
setInterval(refresh, 10000);
