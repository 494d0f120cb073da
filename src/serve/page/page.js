// The live page: polls this jitterd once a second and redraws.
// Everything comes from /api/v1/ on the same origin; nothing else is loaded,
// and the Content-Security-Policy would refuse it if it were.
"use strict";

const POLL_MS = 1000;
const QUANTILES = [["0.5", "p50"], ["0.9", "p90"], ["0.99", "p99"], ["0.999", "p99.9"], ["1", "max"]];
let cursor = 0;            // index of the last main slot in the table
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

function showSlots(beats) {
  const body = $("recent").tBodies[0];
  for (const slot of beats.slots) {
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
  }
  while (body.rows.length > 20) body.deleteRow(body.rows.length - 1);
  cursor = beats.last_index;
}

async function showChart(heartbeat) {
  const text = await (await get("/api/v1/chart.svg?heartbeat=" + heartbeat)).text();
  const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
  if (svg.nodeName !== "svg") throw new Error("chart: not an SVG document");
  $("chart-" + heartbeat).replaceChildren(document.importNode(svg, true));
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
    const [beats] = await Promise.all([
      get("/api/v1/beats?heartbeat=main&after=" + cursor + "&limit=20").then((r) => r.json()),
      showChart("main"),
      control ? showChart("control") : showNoControl(),
    ]);
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
