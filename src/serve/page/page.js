// The live page: polls this jitterd once a second and redraws.
// Everything comes from /api/v1/ on the same origin; nothing else is loaded,
// and the Content-Security-Policy would refuse it if it were.
"use strict";

const POLL_MS = 1000;
const QUANTILES = [["0.5", "p50"], ["0.9", "p90"], ["0.99", "p99"], ["0.999", "p99.9"], ["1", "max"]];
// The causes of lateness, in the order the waterfall charges them. A slot
// later than explain.threshold carries "cause" and "causes_seconds" in
// /api/v1/beats; any other slot (or an older jitterd) carries neither, and
// its dot keeps the heartbeat's plain colour.
const CAUSES = ["throttled", "cpu", "stopped", "paging", "check", "strategy", "steal", "wake"];
// Per heartbeat: index → what /api/v1/beats said of a late slot, and the
// last index asked for.
const late = { main: new Map(), control: new Map() };
const lateCursor = { main: 0, control: 0 };
let experimentKey = "";    // what runs: a change means a reload started a new experiment
let lastPasses = null;     // [passes, uptime] at the previous poll
let polls = 0;

const $ = (id) => document.getElementById(id);

function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  const [scale, unit] = abs < 1e-6 ? [1e9, " ns"] : abs < 1e-3 ? [1e6, " µs"] : abs < 1 ? [1e3, " ms"] : [1, " s"];
  const scaled = value * scale;
  // Three significant digits: 29 µs, 1.58 ms, 100 ms, 2.22 s.
  return (Math.abs(scaled) >= 100 ? scaled.toFixed(0) : String(Number(scaled.toPrecision(3)))) + unit;
}

function duration(totalSeconds) {
  let s = Math.floor(totalSeconds);
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n) parts.push(n + unit);
  }
  return parts.length ? parts.join(" ") : "0s";
}

function number(n) {
  return Number(n).toLocaleString("en-US");
}

async function get(path) {
  const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response;
}

function showExperiment(status) {
  const e = status.experiment;
  $("uptime").textContent = duration(status.uptime_seconds);
  $("version").textContent = status.version;
  if (!e) return;
  $("strategy").textContent = e.strategy;
  $("schedule").textContent = e.schedule;
  $("size").textContent = number(e.size_elements) + " elements";
  $("period").textContent = seconds(e.period_seconds);
  $("duty-cycle").textContent = e.duty_cycle >= 1 ? "100 % (continuous)" : Math.round(e.duty_cycle * 100) + " %";
  $("explanation").textContent = status.explanation || "";
  document.title = "jitterd — " + e.strategy;
  // When it started, to a tenth of a second: a reload to the same settings is a new experiment too.
  const key = e.strategy + "@" + Math.round((status.uptime_seconds - e.running_seconds) * 10);
  if (key !== experimentKey) {
    experimentKey = key;
    $("recent").tBodies[0].replaceChildren();
  }
}

function showFigures(status) {
  const control = !status.experiment || status.experiment.control;
  const body = $("quantiles").tBodies[0];
  body.replaceChildren();
  for (const [q, label] of QUANTILES) {
    const row = body.insertRow();
    row.insertCell().textContent = label;
    row.insertCell().textContent = seconds(status.window.main[q]);
    row.insertCell().textContent = control ? seconds(status.window.control[q]) : "off";
  }
  $("window-note").textContent = "every slot of the last " + duration(status.window.seconds || 0) +
    ", missed ones included: " + number(status.window.main.slots) + " of the main heartbeat";

  $("consistent").textContent = number(status.checks.consistent);
  $("inconsistent").textContent = number(status.checks.inconsistent);
  $("inconsistent").classList.toggle("bad", status.checks.inconsistent > 0);
  $("beats-note").textContent = number(status.heartbeats_total) + " beats, " +
    number(status.heartbeat_missed_total) + " slots missed since jitterd started";

  const drift = status.drift;
  $("drift-gained").textContent = seconds(drift.gained_seconds);
  $("drift-gained").classList.toggle("bad", drift.over_threshold);
  $("drift-note").textContent = "within the last " + duration(drift.window_seconds || 0) +
    " (threshold " + seconds(drift.threshold_seconds) + "); drift since this experiment started: " +
    seconds(drift.seconds);

  const now = status.uptime_seconds;
  if (lastPasses && now > lastPasses[1] && status.array_passes_total >= lastPasses[0]) {
    const rate = (status.array_passes_total - lastPasses[0]) / (now - lastPasses[1]);
    $("passes-rate").textContent = number(Math.round(rate)) + " /s";
  }
  lastPasses = [status.array_passes_total, now];
}

// The cause of a late slot as the API gave it, or null: only a known name
// counts, so nothing unexpected ends up in a class name.
function causeOf(slot) {
  return slot && typeof slot.cause === "string" && CAUSES.includes(slot.cause) ? slot.cause : null;
}

// "cpu 11.2 ms, wake 0.8 ms": the amounts a late slot's lateness splits into, largest first.
function split(slot) {
  const amounts = slot.causes_seconds && typeof slot.causes_seconds === "object" ? slot.causes_seconds : {};
  return CAUSES.map((c) => [c, Number(amounts[c])])
    .filter(([, s]) => s > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([c, s]) => c + " " + seconds(s))
    .join(", ");
}

function showSlots(beats) {
  const body = $("recent").tBodies[0];
  for (const slot of beats.slots.slice(-20)) {
    const row = body.insertRow(0);
    row.className = slot.missed ? "missed" : "";
    row.insertCell().textContent = "#" + slot.index + (slot.missed ? " missed" : "");
    row.insertCell().textContent = seconds(slot.scheduled_offset_seconds);
    row.insertCell().textContent = seconds(slot.lateness_seconds);
    row.insertCell().textContent = seconds(slot.wake_lateness_seconds);
    row.insertCell().textContent = seconds(slot.access_wait_seconds);
    const check = row.insertCell();
    check.textContent = slot.consistent === null ? "–" : slot.consistent ? "consistent" : "inconsistent";
    if (slot.consistent === false) check.className = "bad";
    const cause = row.insertCell();
    const name = causeOf(slot);
    cause.textContent = name || "–";
    if (name) {
      const swatch = document.createElement("span");
      swatch.className = "swatch cause-" + name;
      cause.append(swatch);
      cause.title = split(slot);
    }
  }
  while (body.rows.length > 20) body.deleteRow(body.rows.length - 1);
}

// The heartbeat's slots since the last poll: remembers the late ones.
async function fetchSlots(heartbeat) {
  let beats = await (await get("/api/v1/beats?heartbeat=" + heartbeat + "&after=" + lateCursor[heartbeat])).json();
  if (beats.last_index < lateCursor[heartbeat]) {
    // A new jitterd process: its indexes start again.
    late[heartbeat].clear();
    lateCursor[heartbeat] = 0;
    beats = await (await get("/api/v1/beats?heartbeat=" + heartbeat)).json();
  }
  const known = late[heartbeat];
  for (const slot of beats.slots) {
    if (causeOf(slot)) known.set(slot.index, slot);
  }
  // The ring holds 1,000 slots; older ones are no longer drawn.
  for (const index of known.keys()) {
    if (index <= beats.last_index - 2000) known.delete(index);
  }
  lateCursor[heartbeat] = beats.last_index;
  return beats;
}

// Late dots take their cause's colour (a class the style sheet colours),
// a larger radius and a title naming the split; the rest keep the plain colour.
function colourDots(heartbeat) {
  const known = late[heartbeat];
  // Up to which slot the causes were known when these dots were coloured.
  $("chart-" + heartbeat).dataset.causesThrough = String(lateCursor[heartbeat]);
  for (const dot of $("chart-" + heartbeat).querySelectorAll("circle[data-index]")) {
    const slot = known.get(Number(dot.dataset.index));
    const name = causeOf(slot);
    if (!name) continue;
    dot.classList.add("late", "cause-" + name);
    dot.setAttribute("r", "3.2");
    dot.dataset.cause = name;
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = "slot #" + slot.index + ": " + seconds(slot.lateness_seconds) + " late, mostly " + name +
      (split(slot) ? " (" + split(slot) + ")" : "");
    dot.append(title);
  }
}

async function showChart(heartbeat) {
  const text = await (await get("/api/v1/chart.svg?heartbeat=" + heartbeat)).text();
  const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
  if (svg.nodeName !== "svg") throw new Error("chart: not an SVG document");
  $("chart-" + heartbeat).replaceChildren(document.importNode(svg, true));
  colourDots(heartbeat);
}

function showNoControl() {
  const note = document.createElement("p");
  note.className = "note";
  note.textContent = "The control heartbeat is off (heartbeat.control = false).";
  $("chart-control").replaceChildren(note);
}

async function poll() {
  try {
    const status = await (await get("/api/v1/status")).json();
    showExperiment(status);
    showFigures(status);
    const control = !status.experiment || status.experiment.control;
    // The slots first, so the dots drawn next find their causes.
    const [beats] = await Promise.all([fetchSlots("main"), control ? fetchSlots("control") : null]);
    await Promise.all([showChart("main"), control ? showChart("control") : showNoControl()]);
    showSlots(beats);
    polls += 1;
    document.documentElement.dataset.polls = String(polls);
    $("connection").textContent = "Live: updated " + new Date().toLocaleTimeString();
    $("connection").classList.remove("lost");
  } catch (err) {
    $("connection").textContent = "Not updating: " + err.message + " (retrying every second)";
    $("connection").classList.add("lost");
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
