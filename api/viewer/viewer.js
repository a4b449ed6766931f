// F1 chart viewer: season → event → session → chart, rendered with the vendored plotly.js.
// The chart menu and the parameter fields come from the catalogue (GET /v1/charts): each chart lists the query
// parameters it takes, and only those are shown and sent.
// After each render the body carries data-chart-state ("loading" | "rendered" | "error"), data-trace-count,
// data-point-count and, on error, data-chart-error, so a headless browser can assert on the outcome.
// Live sessions (the session's `live` flag): the viewer subscribes to GET /v1/sessions/{key}/events and redraws
// the chart on each `changed` event naming it, without polling; the body then carries data-live ("connecting" |
// "open" | "closed") and data-live-updates (redraws so far).
// URL parameters preselect: ?session=9472&chart=lap-times[&drivers=1,16][&laps=10-30][&reference=1:39]
// [&comparison=16:36][&comparison_session=9468] or ?season=2024&chart=results-heatmap.
"use strict";

// Form fields per catalogue parameter name (`lap_min` and `lap_max` share the "laps" field, e.g. "10-30").
const FIELDS = {
  drivers: "drivers",
  lap_min: "laps",
  lap_max: "laps",
  reference: "reference",
  comparison: "comparison",
  comparison_session: "comparison_session",
};

const elements = {
  form: document.getElementById("picker"),
  season: document.getElementById("season"),
  meeting: document.getElementById("meeting"),
  session: document.getElementById("session"),
  chart: document.getElementById("chart-kind"),
  drivers: document.getElementById("drivers"),
  laps: document.getElementById("laps"),
  reference: document.getElementById("reference"),
  comparison: document.getElementById("comparison"),
  comparison_session: document.getElementById("comparison_session"),
  description: document.getElementById("chart-description"),
  status: document.getElementById("status"),
  plot: document.getElementById("chart"),
};
let charts = [];

function setState(state, message) {
  document.body.dataset.chartState = state;
  if (state === "error") {
    document.body.dataset.chartError = message;
  } else {
    delete document.body.dataset.chartError;
  }
  elements.status.textContent = message || "";
}

// `fresh`: revalidate instead of using the browser's HTTP cache (a live chart's max-age outlives its data).
async function getJson(path, fresh = false) {
  const response = await fetch(path, {
    headers: { Accept: "application/json" },
    cache: fresh ? "no-cache" : "default",
  });
  if (!response.ok) {
    let detail = "";
    try {
      const body = await response.json();
      detail = body.detail || body.title || body.message || "";
    } catch (_) { /* not JSON */ }
    throw new Error(`${response.status} ${response.statusText}${detail ? `: ${detail}` : ""} (${path})`);
  }
  return response.json();
}

// Lists may come bare or wrapped ({items: [...]}/{data: [...]}).
function rows(body) {
  if (Array.isArray(body)) return body;
  for (const key of ["items", "data", "results", "seasons", "meetings", "sessions", "charts"]) {
    if (Array.isArray(body?.[key])) return body[key];
  }
  return [];
}

function fill(select, options, selected) {
  select.replaceChildren(...options.map(({ value, label }) => {
    const option = document.createElement("option");
    option.value = String(value);
    option.textContent = label;
    return option;
  }));
  if (selected !== undefined && options.some((option) => String(option.value) === String(selected))) {
    select.value = String(selected);
  }
  select.disabled = options.length === 0;
}

async function loadCharts() {
  charts = rows(await getJson("/v1/charts")).filter((chart) => typeof chart.slug === "string");
  const groups = [["session", "Session charts"], ["season", "Season charts"]].map(([scope, label]) => {
    const group = document.createElement("optgroup");
    group.label = label;
    group.append(...charts.filter((chart) => chart.scope === scope).map((chart) => {
      const option = document.createElement("option");
      option.value = chart.slug;
      option.textContent = chart.title;
      option.title = chart.description;
      return option;
    }));
    return group;
  });
  elements.chart.replaceChildren(...groups);
  elements.chart.disabled = charts.length === 0;
}

function chartOf(slug) {
  return charts.find((candidate) => candidate.slug === slug);
}

// Shows the fields of the chosen chart's parameters and its description.
function showParameters() {
  const chart = chartOf(elements.chart.value);
  const taken = new Set((chart?.parameters || []).map((parameter) => FIELDS[parameter.name]));
  for (const field of new Set(Object.values(FIELDS))) {
    elements[field].closest("label").hidden = !taken.has(field);
  }
  const types = chart?.scope === "session" ? ` (${(chart.session_types || []).join(", ")} sessions)` : "";
  elements.description.textContent = chart ? `${chart.description}${types}` : "";
}

async function loadSeasons(selected) {
  const seasons = rows(await getJson("/v1/seasons"))
    .map((season) => (typeof season === "object" ? season.year : season))
    .filter((year) => Number.isInteger(Number(year)))
    .sort((left, right) => right - left);
  fill(elements.season, seasons.map((year) => ({ value: year, label: String(year) })), selected);
}

async function loadMeetings(selected) {
  const year = elements.season.value;
  if (!year) return fill(elements.meeting, []);
  const meetings = rows(await getJson(`/v1/meetings?year=${encodeURIComponent(year)}`))
    .sort((left, right) => String(left.date_start).localeCompare(String(right.date_start)));
  fill(elements.meeting, meetings.map((meeting) => ({
    value: meeting.meeting_key,
    label: meeting.meeting_name || meeting.location || `Meeting ${meeting.meeting_key}`,
  })), selected);
}

async function loadSessions(selected) {
  const meeting = elements.meeting.value;
  if (!meeting) return fill(elements.session, []);
  const sessions = rows(await getJson(`/v1/sessions?meeting_key=${encodeURIComponent(meeting)}`))
    .sort((left, right) => String(left.date_start).localeCompare(String(right.date_start)));
  const races = sessions.filter((session) => session.session_type === "Race");
  fill(elements.session, sessions.map((session) => ({
    value: session.session_key,
    label: session.session_name || `Session ${session.session_key}`,
  })), selected ?? races.at(-1)?.session_key);
}

function chartUrl(selection) {
  const chart = chartOf(selection.chart);
  const base = (chart?.path || `/v1/sessions/{session_key}/charts/${selection.chart}`)
    .replace("{session_key}", encodeURIComponent(selection.session))
    .replace("{year}", encodeURIComponent(selection.season));
  const taken = new Set((chart?.parameters || []).map((parameter) => parameter.name));
  const query = new URLSearchParams();
  if (taken.has("drivers") && selection.drivers) query.set("drivers", selection.drivers.replace(/\s+/g, ""));
  if (taken.has("lap_min") && selection.laps) {
    const [first, last] = selection.laps.trim().split("-");
    if (first) query.set("lap_min", first);
    if (last) query.set("lap_max", last);
  }
  for (const name of ["reference", "comparison", "comparison_session"]) {
    if (taken.has(name) && selection[name]) query.set(name, selection[name].trim());
  }
  const text = query.toString();
  return text ? `${base}?${text}` : base;
}

function themed(layout) {
  const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  const text = dark ? "#eceef2" : "#1b1d21";
  const grid = dark ? "#343843" : "#e3e6eb";
  const themedLayout = { ...layout, font: { ...(layout.font || {}), color: text } };
  for (const key of Object.keys(themedLayout)) {
    if (/^[xy]axis\d*$/.test(key)) {
      themedLayout[key] = { gridcolor: grid, zerolinecolor: grid, ...themedLayout[key] };
    }
  }
  return themedLayout;
}

function pointCount(traces) {
  return traces.reduce((total, trace) => total + (Array.isArray(trace.x) ? trace.x.length : 0), 0);
}

// Draws the chart of `selection`; `redraw` keeps the page as it is while the new figure loads (live updates).
async function draw(selection, redraw = false) {
  const url = chartUrl(selection);
  if (!redraw) setState("loading", "Loading chart…");
  try {
    const figure = await getJson(url, redraw);
    const traces = figure.data || [];
    const plot = redraw ? Plotly.react : Plotly.newPlot;
    await plot(elements.plot, traces, themed(figure.layout || {}), {
      responsive: true,
      displaylogo: false,
    });
    const title = figure.layout?.title?.text || selection.chart;
    elements.plot.setAttribute("aria-label", title);
    document.body.dataset.traceCount = String(traces.length);
    document.body.dataset.pointCount = String(pointCount(traces));
    setState("rendered", traces.length === 0 ? `${title}: no data for this session.` : "");
  } catch (error) {
    document.body.dataset.traceCount = "0";
    document.body.dataset.pointCount = "0";
    setState("error", `Could not draw the chart: ${error.message}`);
  }
}

// The live subscription of the chart on screen (one at a time).
const live = { source: null, selection: null, drawing: false, again: false, updates: 0 };

function stopFollowing() {
  if (live.source) live.source.close();
  live.source = null;
  live.selection = null;
  delete document.body.dataset.live;
}

// Redraws the followed chart, one redraw at a time (an event during a redraw causes one more afterwards).
async function redrawLive() {
  if (live.drawing) {
    live.again = true;
    return;
  }
  live.drawing = true;
  do {
    live.again = false;
    const selection = live.selection;
    if (!selection) break;
    await draw(selection, true);
    live.updates += 1;
    document.body.dataset.liveUpdates = String(live.updates);
  } while (live.again);
  live.drawing = false;
}

// When the selection is a session chart of a live session, redraws it on each change event naming it.
async function follow(selection) {
  stopFollowing();
  const chart = chartOf(selection.chart);
  if (!selection.session || chart?.scope === "season") return;
  let session;
  try {
    session = await getJson(`/v1/sessions/${encodeURIComponent(selection.session)}`, true);
  } catch (_) {
    return;
  }
  if (!session?.live || live.source) return;
  live.selection = selection;
  live.updates = 0;
  document.body.dataset.liveUpdates = "0";
  document.body.dataset.live = "connecting";
  const source = new EventSource(`/v1/sessions/${encodeURIComponent(selection.session)}/events`);
  live.source = source;
  source.addEventListener("open", () => { document.body.dataset.live = "open"; });
  source.addEventListener("error", () => {
    // The browser reconnects on its own (sending Last-Event-ID) unless the server refused the stream.
    document.body.dataset.live = source.readyState === EventSource.CLOSED ? "closed" : "connecting";
  });
  source.addEventListener("changed", (event) => {
    let change;
    try {
      change = JSON.parse(event.data);
    } catch (_) {
      return;
    }
    if ((change.charts || []).includes(selection.chart)) redrawLive();
  });
}

async function show(selection) {
  await draw(selection);
  await follow(selection);
}

const PARAMETER_FIELDS = ["drivers", "laps", "reference", "comparison", "comparison_session"];

function currentSelection() {
  const selection = {
    season: elements.season.value,
    session: elements.session.value,
    chart: elements.chart.value,
  };
  for (const field of PARAMETER_FIELDS) selection[field] = elements[field].value;
  return selection;
}

function rememberInUrl(selection) {
  const query = new URLSearchParams();
  if (chartOf(selection.chart)?.scope === "season") query.set("season", selection.season);
  else query.set("session", selection.session);
  query.set("chart", selection.chart);
  for (const field of PARAMETER_FIELDS) {
    if (selection[field]) query.set(field, selection[field]);
  }
  history.replaceState(null, "", `${location.pathname}?${query}`);
}

async function start() {
  const params = new URLSearchParams(location.search);
  const preselected = {
    session: params.get("session"),
    season: params.get("season"),
    chart: params.get("chart"),
  };
  for (const field of PARAMETER_FIELDS) {
    preselected[field] = params.get(field) || "";
    elements[field].value = preselected[field];
  }
  try {
    await loadCharts();
  } catch (error) {
    setState("error", `Could not load the chart catalogue: ${error.message}`);
    return;
  }
  if (preselected.chart) elements.chart.value = preselected.chart;
  showParameters();
  elements.chart.addEventListener("change", showParameters);

  // A preselected session is drawn at once; the pickers fill in around it.
  if (preselected.chart && (preselected.session || preselected.season)) {
    show({ ...preselected, chart: elements.chart.value || preselected.chart });
  }
  try {
    let season = preselected.season;
    let meeting;
    if (preselected.session) {
      try {
        const session = await getJson(`/v1/sessions/${encodeURIComponent(preselected.session)}`);
        const row = Array.isArray(session) ? session[0] : session;
        season = season || row?.year;
        meeting = row?.meeting_key;
      } catch (_) { /* pickers stay on their defaults */ }
    }
    await loadSeasons(season);
    await loadMeetings(meeting);
    await loadSessions(preselected.session ?? undefined);
  } catch (error) {
    if (document.body.dataset.chartState === "idle") {
      setState("error", `Could not load the calendar: ${error.message}`);
    }
  }

  elements.season.addEventListener("change", async () => {
    await loadMeetings();
    await loadSessions();
  });
  elements.meeting.addEventListener("change", () => loadSessions());
  elements.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const selection = currentSelection();
    rememberInUrl(selection);
    show(selection);
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (elements.plot.data) Plotly.relayout(elements.plot, themed(elements.plot.layout));
  });
}

start();
