// The live page: polls this host's jitterd once a second and redraws.
// Everything comes from /api/v1/ on the same origin; nothing else is loaded.
"use strict";

const POLL_MS = 1000;
let cursor = 0;            // index of the last main slot shown in the table
let experimentKey = "";    // strategy/schedule/period: a change means a reload
let lastPasses = null;     // [passes, time] of the previous poll

const $ = (id) => document.getElementById(id);

function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  if (abs < 1e-3) return (value * 1e6).toFixed(abs < 1e-5 ? 2 : 0) + " µs";
  if (abs < 1) return (value * 1e3).toFixed(abs < 1e-2 ? 2 : 1) + " ms";
  return value.toFixed(abs < 10 ? 3 : 1) + " s";
}

function duration(totalSeconds) {
  let s = Math.floor(totalSeconds);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + (d || h || m ? m + "m " : "") + s + "s";
}

function number(n) {
  return Number(n).toLocaleString("en-US");
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function showStatus(status) {
  const e = status.experiment;
  $("strategy").textContent = e.strategy;
  $("schedule").textContent = e.schedule;
  $("size").textContent = number(e.size_elements) + " elements";
  $("period").textContent = seconds(e.period_seconds);
  $("duty-cycle").textContent = e.duty_cycle === undefined ? "1" : String(e.duty_cycle);
  $("uptime").textContent = duration(status.uptime_seconds);
  $("version").textContent = status.version;
  $("explanation").textContent = status.explanation;
  document.title = "jitterd — " + e.strategy;

  const body = $("quantiles").tBodies[0];
  body.replaceChildren();
  for (const q of ["0.5", "0.9", "0.99", "0.999", "1"]) {
    const row = body.insertRow();
    row.insertCell().textContent = q === "1" ? "max" : "p" + (Number(q) * 100);
    row.insertCell().textContent = seconds(status.window.main[q]);
    row.insertCell().textContent = seconds(status.window.control[q]);
  }
  $("window-note").textContent = "every slot of the last " + duration(status.window.seconds) +
    ", missed ones included; control shares nothing with the counter";

  $("consistent").textContent = number(status.checks.consistent);
  $("inconsistent").textContent = number(status.checks.inconsistent);
  $("inconsistent").classList.toggle("nonzero", status.checks.inconsistent > 0);

  const gained = status.drift.gained_seconds;
  $("drift-gained").textContent = seconds(gained);
  $("drift-gained").classList.toggle("over", gained > status.drift.threshold_seconds);
  $("drift-note").textContent = "within the last " + duration(status.drift.window_seconds) +
    " (threshold " + seconds(status.drift.threshold_seconds) + "); drift since the start: " +
    seconds(status.drift.seconds);

  const now = status.uptime_seconds;
  if (lastPasses && now > lastPasses[1] && status.array_passes_total >= lastPasses[0]) {
    const rate = (status.array_passes_total - lastPasses[0]) / (now - lastPasses[1]);
    $("passes-rate").textContent = number(Math.round(rate)) + " /s";
  }
  lastPasses = [status.array_passes_total, now];

  const key = e.strategy + "/" + e.schedule + "/" + e.period_seconds + "/" + e.size_elements;
  if (key !== experimentKey) {
    experimentKey = key;
    $("recent").tBodies[0].replaceChildren();
  }
}

function showSlots(beats) {
  const body = $("recent").tBodies[0];
  for (const slot of beats.slots) {
    const row = body.insertRow(0);
    row.className = slot.missed ? "missed" : "";
    row.dataset.index = slot.index;
    row.insertCell().textContent = "#" + slot.index + (slot.missed ? " missed" : "");
    row.insertCell().textContent = seconds(slot.scheduled_offset_seconds);
    row.insertCell().textContent = seconds(slot.lateness_seconds);
    row.insertCell().textContent = seconds(slot.wake_lateness_seconds);
    row.insertCell().textContent = seconds(slot.access_wait_seconds);
    row.insertCell().textContent = slot.consistent === null ? "–" : slot.consistent ? "consistent" : "INCONSISTENT";
  }
  while (body.rows.length > 20) body.deleteRow(body.rows.length - 1);
  cursor = beats.last_index;
}

async function showChart() {
  const response = await fetch("/api/v1/chart.svg", { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error("chart: HTTP " + response.status);
  const text = await response.text();
  const svg = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
  if (svg.nodeName !== "svg") throw new Error("chart: not an SVG document");
  $("chart").replaceChildren(document.importNode(svg, true));
}

async function poll() {
  try {
    const status = await getJSON("/api/v1/status");
    showStatus(status);
    showSlots(await getJSON("/api/v1/beats?heartbeat=main&after=" + cursor + "&limit=20"));
    await showChart();
    $("connection").textContent = "Live: updated " + new Date().toLocaleTimeString();
    $("connection").classList.remove("lost");
  } catch (err) {
    $("connection").textContent = "Not updating: " + err.message + " (retrying)";
    $("connection").classList.add("lost");
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
