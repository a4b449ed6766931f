// F1 chart viewer: season → event → session → chart, rendered with the vendored plotly.js.
// After each render the body carries data-chart-state ("loading" | "rendered" | "error"), data-trace-count
// and, on error, data-chart-error, so a headless browser can assert on the outcome.
// URL parameters preselect: ?session=9472&chart=lap-times[&drivers=1,16][&laps=10-30] or ?season=2024&chart=...
"use strict";

// Mirrors `ChartKind` (api/src/charts/mod.rs); replaced by GET /v1/charts when the API offers it.
const DEFAULT_CHARTS = [
  { slug: "lap-times", title: "Lap times", season: false },
  { slug: "lap-time-distribution", title: "Lap-time distribution", season: false },
  { slug: "team-pace", title: "Team pace ranking", season: false },
  { slug: "tyre-strategy", title: "Tyre strategy", season: false },
  { slug: "position-changes", title: "Position changes", season: false },
  { slug: "gap-to-leader", title: "Gap to leader", season: false },
  { slug: "interval-to-car-ahead", title: "Interval to car ahead", season: false },
  { slug: "pit-stops", title: "Pit stop durations", season: false },
  { slug: "qualifying-delta", title: "Qualifying delta to pole", season: false },
  { slug: "sector-comparison", title: "Sector comparison", season: false },
  { slug: "speed-traps", title: "Speed-trap comparison", season: false },
  { slug: "weather", title: "Weather", season: false },
  { slug: "telemetry-comparison", title: "Fastest-lap telemetry comparison", season: false },
  { slug: "track-map", title: "Speed on the track map", season: false },
  { slug: "positions-gained", title: "Grid vs finish: positions gained", season: false },
  { slug: "championship-progression", title: "Championship points progression", season: true },
];

const elements = {
  form: document.getElementById("picker"),
  season: document.getElementById("season"),
  meeting: document.getElementById("meeting"),
  session: document.getElementById("session"),
  chart: document.getElementById("chart-kind"),
  drivers: document.getElementById("drivers"),
  laps: document.getElementById("laps"),
  status: document.getElementById("status"),
  plot: document.getElementById("chart"),
};
let charts = DEFAULT_CHARTS;

function setState(state, message) {
  document.body.dataset.chartState = state;
  if (state === "error") {
    document.body.dataset.chartError = message;
  } else {
    delete document.body.dataset.chartError;
  }
  elements.status.textContent = message || "";
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
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
  try {
    const listed = rows(await getJson("/v1/charts"))
      .map((chart) => ({
        slug: chart.slug ?? chart,
        title: chart.title ?? chart.slug ?? chart,
        season: Boolean(chart.season ?? chart.is_season_chart),
      }))
      .filter((chart) => typeof chart.slug === "string");
    if (listed.length > 0) charts = listed;
  } catch (_) { /* the constant above matches ChartKind */ }
  fill(elements.chart, charts.map((chart) => ({ value: chart.slug, label: chart.title })));
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

function chartUrl({ session, season, chart, drivers, laps }) {
  const kind = charts.find((candidate) => candidate.slug === chart);
  const base = kind?.season
    ? `/v1/seasons/${encodeURIComponent(season)}/charts/${encodeURIComponent(chart)}`
    : `/v1/sessions/${encodeURIComponent(session)}/charts/${encodeURIComponent(chart)}`;
  const query = new URLSearchParams();
  if (drivers) query.set("drivers", drivers.replace(/\s+/g, ""));
  if (laps) query.set("laps", laps.trim());
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

async function draw(selection) {
  const url = chartUrl(selection);
  setState("loading", "Loading chart…");
  try {
    const figure = await getJson(url);
    await Plotly.newPlot(elements.plot, figure.data || [], themed(figure.layout || {}), {
      responsive: true,
      displaylogo: false,
    });
    const title = figure.layout?.title?.text || selection.chart;
    elements.plot.setAttribute("aria-label", title);
    document.body.dataset.traceCount = String((figure.data || []).length);
    setState("rendered", (figure.data || []).length === 0 ? `${title}: no data for this session.` : "");
  } catch (error) {
    document.body.dataset.traceCount = "0";
    setState("error", `Could not draw the chart: ${error.message}`);
  }
}

function currentSelection() {
  return {
    season: elements.season.value,
    session: elements.session.value,
    chart: elements.chart.value,
    drivers: elements.drivers.value,
    laps: elements.laps.value,
  };
}

function rememberInUrl(selection) {
  const query = new URLSearchParams();
  const kind = charts.find((candidate) => candidate.slug === selection.chart);
  if (kind?.season) query.set("season", selection.season);
  else query.set("session", selection.session);
  query.set("chart", selection.chart);
  if (selection.drivers) query.set("drivers", selection.drivers);
  if (selection.laps) query.set("laps", selection.laps);
  history.replaceState(null, "", `${location.pathname}?${query}`);
}

async function start() {
  const params = new URLSearchParams(location.search);
  const preselected = {
    session: params.get("session"),
    season: params.get("season"),
    chart: params.get("chart"),
    drivers: params.get("drivers") || "",
    laps: params.get("laps") || "",
  };
  elements.drivers.value = preselected.drivers;
  elements.laps.value = preselected.laps;
  await loadCharts();
  if (preselected.chart) elements.chart.value = preselected.chart;

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
