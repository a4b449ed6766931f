// F1 chart viewer: season → event → session → chart, rendered with the vendored plotly.js.
// The chart menu and the parameter fields come from the catalogue (GET /v1/charts): each chart lists the query
// parameters it takes, and only those are shown and sent.
// After each render the body carries data-chart-state ("loading" | "rendered" | "error"), data-trace-count,
// data-point-count and, on error, data-chart-error, so a headless browser can assert on the outcome.
// URL parameters preselect: ?session=9472&chart=lap-times[&drivers=1,16][&laps=10-30][&reference=1:39]
// [&comparison=16:36][&comparison_session=9468] or ?season=2024&chart=results-heatmap. Without them the latest
// session is preselected, and drawn at once (lap times) when it is live.
// A chart of a live session (the session's `live` flag, set by the api from 30 minutes before its start to 30
// minutes after its end) follows the session's change events (GET /v1/sessions/{key}/events, Server-Sent Events):
// it is fetched again and redrawn in place on each event naming it, without polling. <body data-live="true"> says
// so; data-live-stream ("connecting" | "open" | "closed") is the stream's state and data-live-updates counts redraws.
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
// A counter that lets a newer draw discard an older one still in flight.
let drawGeneration = 0;
const sessionRows = new Map();

function setState(state, message) {
  document.body.dataset.chartState = state;
  if (state === "error") {
    document.body.dataset.chartError = message;
  } else {
    delete document.body.dataset.chartError;
  }
  elements.status.textContent = message || "";
}

// `revalidate` asks the server again (If-None-Match) instead of using the browser's cached copy.
async function getJson(path, revalidate = false) {
  const response = await fetch(path, {
    headers: { Accept: "application/json" },
    cache: revalidate ? "no-cache" : "default",
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

// The session row (memoised; undefined when it cannot be read).
function sessionRow(sessionKey) {
  if (!sessionRows.has(sessionKey)) {
    sessionRows.set(sessionKey, getJson(`/v1/sessions/${encodeURIComponent(sessionKey)}`)
      .then((body) => (Array.isArray(body) ? body[0] : body))
      .catch(() => undefined));
  }
  return sessionRows.get(sessionKey);
}

// Whether the api says the session is live (one rule, the api's).
function isLive(session) {
  return session?.live === true;
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

// The change events of the chart on screen, while its session is live (one subscription at a time).
const live = { source: null, selection: null, drawing: false, again: false, updates: 0 };

function stopFollowing() {
  if (live.source) live.source.close();
  live.source = null;
  live.selection = null;
  delete document.body.dataset.liveStream;
}

// Redraws the followed chart, one redraw at a time (events during a redraw cause one more afterwards).
async function redrawLive() {
  if (live.drawing) {
    live.again = true;
    return;
  }
  live.drawing = true;
  do {
    live.again = false;
    if (!live.selection) break;
    await draw(live.selection, true);
    live.updates += 1;
    document.body.dataset.liveUpdates = String(live.updates);
  } while (live.again);
  live.drawing = false;
}

// Subscribes to the session's change events; the browser reconnects on its own, sending Last-Event-ID.
function follow(selection) {
  if (live.source && live.selection === selection) return;
  stopFollowing();
  live.selection = selection;
  live.updates = 0;
  document.body.dataset.liveUpdates = "0";
  document.body.dataset.liveStream = "connecting";
  const source = new EventSource(`/v1/sessions/${encodeURIComponent(selection.session)}/events`);
  live.source = source;
  source.addEventListener("open", () => { document.body.dataset.liveStream = "open"; });
  source.addEventListener("error", () => {
    document.body.dataset.liveStream = source.readyState === EventSource.CLOSED ? "closed" : "connecting";
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

// Draws the chart; `refresh` redraws a live chart in place (no "loading" state, the old chart stays on errors).
async function draw(selection, refresh = false) {
  const generation = ++drawGeneration;
  const url = chartUrl(selection);
  const isLiveChart = chartOf(selection.chart)?.scope === "session" && isLive(await sessionRow(selection.session));
  if (generation !== drawGeneration) return;
  document.body.dataset.live = String(isLiveChart);
  if (!refresh) stopFollowing();
  if (!refresh) setState("loading", "Loading chart…");
  try {
    const figure = await getJson(url, refresh);
    if (generation !== drawGeneration) return;
    const plot = refresh ? Plotly.react : Plotly.newPlot;
    document.body.dataset.pointCount = String(pointCount(figure.data || []));
    await plot(elements.plot, figure.data || [], themed(figure.layout || {}), {
      responsive: true,
      displaylogo: false,
    });
    const title = figure.layout?.title?.text || selection.chart;
    elements.plot.setAttribute("aria-label", title);
    document.body.dataset.traceCount = String((figure.data || []).length);
    const empty = (figure.data || []).length === 0 ? `${title}: no data for this session yet. ` : "";
    const updated = isLiveChart ? `Live: updated ${new Date().toLocaleTimeString()}, redrawn on each change.` : "";
    setState("rendered", `${empty}${updated}`.trim());
  } catch (error) {
    if (generation !== drawGeneration) return;
    if (refresh) {
      setState("rendered", `Live refresh failed (${error.message}); trying again on the next change.`);
    } else {
      document.body.dataset.traceCount = "0";
      setState("error", `Could not draw the chart: ${error.message}`);
    }
  }
  if (isLiveChart && !refresh) follow(selection);
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
  if (!preselected.session && !preselected.season) {
    // Nothing asked for: the latest session, drawn at once when it is live.
    try {
      const latest = await getJson("/v1/sessions/latest");
      preselected.session = String(latest.session_key);
      if (isLive(latest) && !preselected.chart) preselected.chart = "lap-times";
    } catch (_) { /* no session yet: the pickers stay on their defaults */ }
  }
  if (preselected.chart) elements.chart.value = preselected.chart;
  showParameters();
  elements.chart.addEventListener("change", showParameters);

  // A preselected session is drawn at once; the pickers fill in around it.
  if (preselected.chart && (preselected.session || preselected.season)) {
    draw({ ...preselected, chart: elements.chart.value || preselected.chart });
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
    draw(selection);
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    if (elements.plot.data) Plotly.relayout(elements.plot, themed(elements.plot.layout));
  });
}

start();
