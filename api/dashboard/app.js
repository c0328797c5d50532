// Reprise dashboard: plain ES module, no build step. Every piece of data reaches the page through
// textContent or attributes set by `h`, never as HTML: recording names and errors are untrusted input.

const main = document.getElementById("main");
// The run contract (statuses, which of them are final) is the API's (`GET /api/contract`), read once
// before the first page: never a copy here.
let RUN_STATUSES = [];
let FINAL = new Set();
let SUITE_FINAL = new Set();
let CHART_SERIES = [];
let PRIORITIES = [];
let WEBHOOK_EVENTS = [];
let WEBHOOK_FORMATS = [];
let contractLoaded = null;

function loadContract() {
  contractLoaded ??= api("/api/contract").then((contract) => {
    RUN_STATUSES = contract.runStatuses;
    FINAL = new Set(contract.finalRunStatuses);
    SUITE_FINAL = new Set(contract.finalSuiteRunStatuses);
    CHART_SERIES = contract.finalRunStatuses.map((status) => [status, `--${status}`]);
    PRIORITIES = contract.priorities;
    WEBHOOK_EVENTS = contract.webhookEvents;
    WEBHOOK_FORMATS = contract.webhookFormats;
  });
  return contractLoaded;
}
const PAGE_SIZE = 50;

// ---- session -------------------------------------------------------------------------------------

let SESSION = null;  // {name, scope, via, csrfToken} once logged in
let sessionLoaded = null;

function loadSession() {
  sessionLoaded ??= fetch("/api/session", { credentials: "same-origin" }).then(async (response) => {
    SESSION = response.ok ? await response.json() : null;
    showUser();
    return SESSION;
  });
  return sessionLoaded;
}

function showUser() {
  const user = document.getElementById("user");
  const logout = document.getElementById("logout");
  user.textContent = SESSION && SESSION.via !== "none" ? `${SESSION.name} (${SESSION.scope})` : "";
  logout.hidden = !SESSION || SESSION.via !== "session";
}

async function logOut() {
  try { await api("/api/session", { method: "DELETE" }); } catch (error) { toast(error.message); }
  SESSION = null;
  sessionLoaded = null;
  contractLoaded = null;
  showUser();
  route();
}

function loginPage() {
  const input = h("input", { id: "login-key", type: "password", name: "key", autocomplete: "off", required: true,
                             spellcheck: "false", placeholder: "rk_…" });
  const status = h("p", { class: "muted", role: "status" });
  if (new URLSearchParams(location.search).get("login") === "invalid") {
    status.textContent = "That login link is invalid, expired or was already used: paste a key instead.";
  }
  const form = h("form", { class: "login", "aria-label": "Log in" },
    h("h1", {}, "Log in to Reprise"),
    h("label", { for: "login-key" }, "API key"), input,
    h("button", { type: "submit", class: "primary" }, "Log in"),
    h("p", { class: "muted" }, "Create a key with ", h("code", {}, "reprise keys create --name NAME --scope read"),
      "; ", h("code", {}, "reprise dev"), " prints a login link when it starts."),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      SESSION = await api("/api/session", { method: "POST", body: JSON.stringify({ key: input.value.trim() }) });
      sessionLoaded = Promise.resolve(SESSION);
      showUser();
      if (location.search) history.replaceState(null, "", `/${location.hash}`);
      route();
    } catch (error) {
      status.textContent = error.message;
    }
  });
  main.append(form);
  input.focus();
}

// ---- small helpers -------------------------------------------------------------------------------

// Artifact links are built from the API's PUBLIC_URL; a dashboard reached under another name (an address,
// a proxy) loads them from its own origin instead, which its Content-Security-Policy allows.
function local(url) {
  if (!url) return url;
  const parsed = new URL(url, location.href);
  return parsed.origin === location.origin ? url : parsed.pathname + parsed.search;
}

function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function svg(tag, attrs = {}) {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  return element;
}

// The session cookie (HttpOnly) goes with every same-origin request by itself; a state-changing request also
// sends the session's CSRF token, which another site can neither read nor set (README "Security").
async function api(path, options = {}) {
  const headers = options.body ? { "Content-Type": "application/json" } : {};
  const method = (options.method || "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD" && SESSION && SESSION.csrfToken) {
    headers["X-Reprise-CSRF"] = SESSION.csrfToken;
  }
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (response.status === 401 && path !== "/api/session") {
    SESSION = null;
    sessionLoaded = null;
    setTimeout(route, 0);  // the session expired or its key was revoked: back to the login form
  }
  if (!response.ok) {
    const message = body && body.message ? body.message : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

function badge(status) {
  return h("span", { class: `badge ${status}`, "data-status": status }, status);
}

// A run's marks beside its status: "flaky" (passed on a retry after a failed attempt) and "quarantined" (its
// recording was quarantined when it ended: its failure fails no suite or `reprise submit`).
function runMarks(run) {
  return [
    run.flaky ? [" ", h("span", { class: "badge flaky", "data-mark": "flaky",
                                  title: "Passed on a retry after a failed attempt" }, "flaky")] : null,
    run.quarantined ? [" ", h("span", { class: "badge quarantined", "data-mark": "quarantined",
                                        title: "Its recording was quarantined when it ended" }, "quarantined")] : null,
  ].flat().filter(Boolean);
}

function priorityBadge(priority) {
  return h("span", { class: `prio ${priority}`, "data-priority": priority }, priority);
}

function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toISOString() }, date.toLocaleString());
}

// "Video removed by retention on 2025-06-30": an artifact whose file retention deleted (its row stays listed).
function removedNote(what, artifact) {
  const iso = artifact.removedAt;
  return h("span", { class: "removed", "data-removed": artifact.kind },
    `${what} removed by ${artifact.removedBy || "retention"} on `,
    h("time", { datetime: iso, title: new Date(iso).toISOString() }, new Date(iso).toISOString().slice(0, 10)));
}

function bytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

// Server-sent events with the browser's own reconnect; `live` shows whether the stream is up. `onOpen` runs at
// every (re)connection, `onDown` whenever the stream is lost. A stream the API refused (an HTTP error, such as
// 429 for too many streams) is one the browser gives up on: it is opened again after REOPEN_MS.
const REOPEN_MS = 10000;

function subscribe(query, onEvent, { onOpen = () => {}, onDown = () => {} } = {}) {
  const live = document.getElementById("live");
  let source = null;
  let reopen = null;
  let closed = false;
  function open() {
    source = new EventSource(`/api/events${query}`);
    source.onopen = () => { live.textContent = "live"; live.classList.add("on"); onOpen(); };
    source.onerror = () => {
      live.textContent = "reconnecting…";
      live.classList.remove("on");
      onDown();
      if (source.readyState === EventSource.CLOSED && !closed) {
        clearTimeout(reopen);
        reopen = setTimeout(open, REOPEN_MS);
      }
    };
    for (const kind of ["run", "step"]) {
      source.addEventListener(kind, (message) => onEvent(kind, JSON.parse(message.data)));
    }
  }
  open();
  return () => { closed = true; clearTimeout(reopen); source.close(); };
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// ---- routing -------------------------------------------------------------------------------------

let cleanup = () => {};

function route() {
  cleanup();
  cleanup = () => {};
  const live = document.getElementById("live");
  live.textContent = "";
  live.classList.remove("on");
  const [path, queryString] = (location.hash.slice(1) || "/runs").split("?");
  const params = new URLSearchParams(queryString || "");
  const parts = path.split("/").filter(Boolean);
  const section = parts[0] || "runs";
  const navSection = section === "compare" ? "recordings" : section;  // a comparison is of a recording's runs
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.section === navSection) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  const page = loadSession().then((session) => {
    if (!session) return loginPage();
    return loadContract().then(() => {
      if (section === "runs" && parts[1]) return runDetail(parts[1]);
      if (section === "queue") return queuePage();
      if (section === "recordings" && parts[1] && parts[2] === "history") return recordingHistory(parts[1], params);
      if (section === "webhooks" && parts[1]) return webhookDetail(parts[1]);
      if (section === "webhooks") return webhooksPage();
      if (section === "recordings") return recordingsPage();
      if (section === "compare") return comparePage(params);
      if (section === "schedules") return schedulesPage(params);
      if (section === "suites") return suitesPage();
      if (section === "suite-runs" && parts[1]) return suiteRunPage(parts[1]);
      if (section === "flaky") return flakyPage(params);
      return runsList(params);
    });
  });
  page.catch((error) => main.append(h("p", { class: "error-box", role: "alert" }, error.message)));
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", logOut);
  route();
});

// ---- runs list -----------------------------------------------------------------------------------

const FILTERS = ["status", "priority", "name", "worker", "q", "from", "to", "schedule"];

async function runsList(params) {
  document.title = "Runs · Reprise";
  const form = h("form", { class: "filters panel", role: "search", "aria-label": "Filter runs" },
    h("label", {}, "Status", h("select", { name: "status" },
      h("option", { value: "" }, "any"),
      ...RUN_STATUSES.map((s) => h("option", { value: s }, s)))),
    h("label", {}, "Priority", h("select", { name: "priority" },
      h("option", { value: "" }, "any"),
      ...PRIORITIES.map((p) => h("option", { value: p }, p)))),
    h("input", { type: "hidden", name: "schedule" }),
    h("label", {}, "Recording", h("input", { name: "name", type: "text", placeholder: "name contains" })),
    h("label", {}, "Worker", h("input", { name: "worker", type: "text", placeholder: "worker-1" })),
    h("label", {}, "From", h("input", { name: "from", type: "date" })),
    h("label", {}, "To", h("input", { name: "to", type: "date" })),
    h("label", {}, "Search", h("input", { name: "q", type: "search", placeholder: "name or error" })),
    h("button", { type: "submit", class: "primary" }, "Apply"),
    h("button", { type: "reset" }, "Clear"));
  for (const key of FILTERS) if (params.get(key)) form.elements[key].value = params.get(key);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const key of FILTERS) if (form.elements[key].value) chosen.set(key, form.elements[key].value);
    location.hash = `#/runs${chosen.toString() ? "?" + chosen : ""}`;
  });
  form.addEventListener("reset", () => setTimeout(() => { location.hash = "#/runs"; }, 0));
  form.elements.status.addEventListener("change", () => form.requestSubmit());
  form.elements.priority.addEventListener("change", () => form.requestSubmit());
  const scheduleNote = params.get("schedule")
    ? h("p", { class: "muted", id: "schedule-filter" }, "Runs of one schedule · ",
        h("a", { href: "#/schedules" }, "all schedules"), " · ", h("a", { href: "#/runs" }, "all runs"))
    : null;

  const body = h("tbody");
  const summary = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const table = h("table", { "aria-label": "Runs" },
    h("thead", {}, h("tr", {}, ...["#", "Status", "Priority", "Recording", "Duration", "Worker", "Attempts",
      "Started"]
      .map((title) => h("th", { scope: "col" }, title)))),
    body);
  main.append(...[h("h1", {}, "Runs"), form, scheduleNote, summary, table, more].filter(Boolean));

  const query = new URLSearchParams();
  for (const key of FILTERS) {
    const value = params.get(key);
    if (!value) continue;
    if (key === "from") query.set("from", new Date(`${value}T00:00:00`).toISOString());
    else if (key === "to") query.set("to", new Date(`${value}T23:59:59.999`).toISOString());
    else query.set(key, value);
  }
  const rows = new Map();
  let cursor = null;

  function row(run) {
    const tr = h("tr", { "data-run-id": run.id, "data-status": run.status, "data-priority": run.priority },
      h("td", {}, String(run.number)),
      h("td", {}, badge(run.status), runMarks(run),
        run.errorCategory ? h("div", { class: "muted category" }, run.errorCategory) : null),
      h("td", {}, priorityBadge(run.priority)),
      h("td", { class: "name" }, h("a", { href: `#/runs/${run.id}` }, run.name),
        run.scheduleId ? h("div", { class: "muted from-schedule" },
          h("a", { href: `#/schedules?focus=${run.scheduleId}`, "data-schedule-link": run.scheduleId },
            run.queuedBy || "schedule")) : null),
      h("td", {}, duration(run.durationMs)),
      h("td", {}, run.worker || "—"),
      h("td", {}, String(run.attempts)),
      h("td", {}, when(run.startedAt || run.createdAt)));
    return tr;
  }

  async function load(append) {
    const pageQuery = new URLSearchParams(query);
    pageQuery.set("limit", String(PAGE_SIZE));
    if (append && cursor !== null) pageQuery.set("before", String(cursor));
    const page = await api(`/api/runs?${pageQuery}`);
    if (!append) { body.replaceChildren(); rows.clear(); }
    for (const run of page.items) {
      const tr = row(run);
      rows.set(run.id, tr);
      body.append(tr);
    }
    cursor = page.nextCursor ?? (page.items.length === PAGE_SIZE ? page.items[page.items.length - 1].number : null);
    more.hidden = cursor === null;
    const total = page.total ?? null;
    summary.textContent = total !== null ? `${total} run${total === 1 ? "" : "s"}` : `${rows.size} runs shown`;
    if (!rows.size) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No runs match.")));
  }
  more.addEventListener("click", () => load(true).catch((error) => toast(error.message)));
  await load(false);

  const reload = debounce(() => load(false).catch(() => {}), 400);
  cleanup = subscribe("", async (kind, event) => {
    if (kind !== "run") return;
    const existing = rows.get(event.id);
    if (!existing) { reload(); return; }  // a new run: the first page changes
    try {
      const run = await api(`/api/runs/${event.id}`);
      const fresh = row(run);
      fresh.classList.add("fresh");
      existing.replaceWith(fresh);
      rows.set(run.id, fresh);
    } catch { /* gone or API down: the next event retries */ }
  });
}

// ---- run detail ----------------------------------------------------------------------------------

async function runDetail(runId) {
  let run = null;  // GET /api/runs/{id}, with the latest attempt's steps patched in as their events come
  const heading = h("h1");
  const meta = h("dl", { class: "meta" });
  const errorBox = h("div");
  const cancel = h("button", { type: "button", class: "danger" }, "Cancel run");
  const retry = h("button", { type: "button" }, "Retry run");
  const video = h("video", { controls: true, preload: "metadata", muted: true, playsinline: true,
                             "aria-label": "Recording of the run" });
  const noVideo = h("p", { class: "muted no-video" });
  const stepsList = h("ol", { class: "steps", "aria-label": "Steps" });
  const stepCounts = h("p", { class: "muted step-counts", role: "status" });
  const shot = h("figure", { class: "shot", "aria-live": "polite" });
  const artifacts = h("ul", { class: "artifacts" });
  const visual = h("div", { class: "visual-steps" });
  const attempts = h("tbody");
  const attemptPicker = h("select", { id: "attempt" });
  const attemptField = h("div", { class: "field" }, h("label", { for: "attempt" }, "Attempt"), attemptPicker);
  const olderSteps = new Map();  // attempt number -> its steps, fetched when someone looks at it
  let viewing = null;  // null: the latest attempt
  let selected = null;

  const shownAttempt = () => viewing ?? run.attempts;
  const shownSteps = () => (shownAttempt() === run.attempts ? run.steps : olderSteps.get(shownAttempt()) || []);
  // The attempt's video artifact (its `url` is null once retention removed the file), or null.
  const videoFor = (attempt) => run.artifacts.find((a) => a.kind === "video" && a.attempt === attempt) || null;

  attemptPicker.addEventListener("change", async () => {
    const chosen = Number(attemptPicker.value);
    viewing = chosen === run.attempts ? null : chosen;
    selected = null;
    if (viewing !== null && !olderSteps.has(viewing)) {
      try { olderSteps.set(viewing, await api(`/api/runs/${run.id}/attempts/${viewing}/steps`)); }
      catch (error) { toast(error.message); }
    }
    shot.replaceChildren();
    render();
  });

  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try { await api(`/api/runs/${run.id}/cancel`, { method: "POST" }); await refresh(); }
    catch (error) { toast(error.message); cancel.disabled = false; }
  });
  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      const created = await api(`/api/runs/${run.id}/retry`, { method: "POST" });
      location.hash = `#/runs/${created.id}`;
    } catch (error) { toast(error.message); retry.disabled = false; }
  });

  function screenshotFor(index) {
    const ofStep = (kind) => run.artifacts.find((a) => a.kind === kind && a.step === index && a.attempt === shownAttempt());
    return ofStep("screenshot") || ofStep("visual-actual");  // a compared screenshot step keeps its image so
  }

  function selectStep(step, button) {
    selected = step.index;
    for (const other of stepsList.querySelectorAll("button")) other.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-pressed", "true");
    if (videoFor(shownAttempt())?.url) {
      video.currentTime = step.startedOffsetMs / 1000;
    }
    const picture = screenshotFor(step.index);
    let view;
    if (picture && picture.url) {
      view = h("img", { src: local(picture.url), alt: `Screenshot after step ${step.index + 1} (${step.type})` });
    } else if (picture && picture.removedAt) {
      view = h("p", { class: "muted" }, removedNote("Screenshot", picture));
    } else {
      view = h("p", { class: "muted" }, `No screenshot for step ${step.index + 1}.`);
    }
    shot.replaceChildren(view,
      h("figcaption", { class: "muted" }, `Step ${step.index + 1}: ${step.type}`));
  }

  function stepRow(step) {
    const button = h("button", { type: "button", "aria-pressed": String(step.index === selected),
                                 "data-step": step.index, "data-status": step.status },
      h("span", {}, String(step.index + 1)),
      h("span", {}, h("strong", {}, step.type), step.selector ? h("div", { class: "selector" }, step.selector) : null),
      h("span", {}, badge(step.status), " ", h("span", { class: "muted" }, duration(step.durationMs))),
      step.error ? h("div", { class: "step-error" },
        step.category ? h("strong", {}, `[${step.category}] `) : null, step.error) : null,
      step.warning ? h("div", { class: "step-warning" }, h("strong", {}, "warning: "), step.warning) : null);
    button.addEventListener("click", () => selectStep(step, button));
    return h("li", {}, button);
  }

  function renderStepCounts() {
    const steps = shownSteps();
    const counts = new Map();
    for (const step of steps) counts.set(step.status, (counts.get(step.status) || 0) + 1);
    stepCounts.textContent = steps.length
      ? `${steps.length} step${steps.length === 1 ? "" : "s"}: ${[...counts].map(([s, n]) => `${n} ${s}`).join(", ")}`
      : "";
  }

  function renderSteps() {
    stepsList.replaceChildren(...shownSteps().map(stepRow));
    if (!shownSteps().length) stepsList.append(h("li", { class: "muted" }, "No steps yet."));
    renderStepCounts();
  }

  // One step as its event carries it: into its attempt's list (in the place of the step with its index, or in
  // order) and, when that attempt is on screen, into the page as one row.
  function patchStep(attempt, step) {
    const steps = attempt === run.attempts ? run.steps : olderSteps.get(attempt);
    if (!steps) return;  // an earlier attempt nobody looked at: read when someone does
    const at = steps.findIndex((other) => other.index >= step.index);
    if (at === -1) steps.push(step);
    else if (steps[at].index === step.index) steps[at] = step;
    else steps.splice(at, 0, step);
    if (attempt !== shownAttempt()) return;
    const row = stepRow(step);
    const buttons = [...stepsList.querySelectorAll("button[data-step]")];
    const same = buttons.find((button) => Number(button.dataset.step) === step.index);
    const after = buttons.find((button) => Number(button.dataset.step) > step.index);
    stepsList.querySelector(":scope > li.muted")?.remove();  // "No steps yet."
    if (same) same.closest("li").replaceWith(row);
    else if (after) after.closest("li").before(row);
    else stepsList.append(row);
    renderStepCounts();
  }

  function render() {
    document.title = `Run #${run.number} · Reprise`;
    heading.replaceChildren(`#${run.number} `, h("span", { class: "run-name" }, run.name), " ", badge(run.status),
      ...runMarks(run));
    meta.replaceChildren(...[
      ["Worker", run.worker || "—"], ["Attempts", String(run.attempts)], ["Duration", duration(run.durationMs)],
      ["Created", when(run.createdAt)], ["Started", when(run.startedAt)], ["Finished", when(run.finishedAt)],
      ["Format", run.format], ["Priority", priorityBadge(run.priority)],
      ...(run.scheduleId ? [["Schedule", h("a", { href: `#/schedules?focus=${run.scheduleId}` },
        run.queuedBy || "schedule")]] : []),
      ...(run.suiteRunId ? [["Suite run", h("a", { href: `#/suite-runs/${run.suiteRunId}`, "data-suite-run-link": "" },
        "this run's suite")]] : []),
      ...(run.recordingId ? [["Recording", h("a", { href: `#/recordings/${run.recordingId}/history`,
                                                    id: "recording-history" }, "history")]] : []),
    ].map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))));
    errorBox.replaceChildren(run.error
      ? h("p", { class: "error-box", role: "note" },
          run.errorCategory ? h("strong", {}, `[${run.errorCategory}] `) : null, run.error)
      : "");
    cancel.disabled = FINAL.has(run.status);
    retry.disabled = !FINAL.has(run.status);
    const shownVideo = videoFor(shownAttempt());
    const videoUrl = shownVideo ? local(shownVideo.url) : null;
    if (videoUrl && video.getAttribute("src") !== videoUrl) video.setAttribute("src", videoUrl);
    if (!videoUrl && video.hasAttribute("src")) {  // never a player pointing at a file that is gone
      video.pause();
      video.removeAttribute("src");
      video.load();
    }
    video.hidden = !videoUrl;
    noVideo.hidden = Boolean(videoUrl);
    noVideo.replaceChildren(shownVideo && shownVideo.removedAt ? removedNote("Video", shownVideo)
                                                               : "No video for this run.");
    attemptField.hidden = run.attempts < 2;
    attemptPicker.replaceChildren(...run.attemptHistory.map((a) =>
      h("option", { value: String(a.attempt) }, `${a.attempt} of ${run.attempts}: ${a.status} (${a.worker})`)));
    attemptPicker.value = String(shownAttempt());

    renderSteps();

    const latest = run.artifacts.filter((a) => a.attempt === shownAttempt() && a.kind !== "screenshot");
    const names = { video: "video.webm", trace: "trace.zip", html: "page.html", console: "console.log",
                    har: "network.har" };
    artifacts.replaceChildren(...latest.map((a) => h("li", { "data-artifact": a.kind },
      a.url
        ? h("a", { href: local(a.url), download: a.kind === "html" ? "page.html" : null, rel: "noopener" },
            names[a.kind] || a.kind)
        : h("span", {}, names[a.kind] || a.kind),
      " ", h("span", { class: "muted" }, `${bytes(a.sizeBytes)}${a.step !== null ? ` · step ${a.step + 1}` : ""}`),
      a.removedAt ? [" · ", removedNote("File", a)] : null)));
    const shots = run.artifacts.filter((a) => a.kind === "screenshot" && a.attempt === shownAttempt());
    const removedShots = shots.filter((a) => a.removedAt);
    if (shots.length) {
      artifacts.append(h("li", { class: "muted" }, `${shots.length} screenshot(s): select a step`,
        removedShots.length ? [" · ", removedNote(`${removedShots.length} of them`, removedShots[0])] : null));
    }
    if (!artifacts.children.length) artifacts.append(h("li", { class: "muted" }, "None yet."));
    renderVisual(visual, run, shownAttempt(), shownSteps());

    attempts.replaceChildren(...run.attemptHistory.map((a) => h("tr", {},
      h("td", {}, String(a.attempt)), h("td", {}, a.worker), h("td", {}, badge(a.status)),
      h("td", { class: "name" }, a.error ? `${a.category ? `[${a.category}] ` : ""}${a.error}` : "—"),
      h("td", {}, when(a.startedAt)), h("td", {}, when(a.finishedAt)))));
  }

  // The whole run is read at the first contact with the event stream, at each reconnection, when a run event
  // changes its status or attempt, and by the fallback poll; never for a step. Reads do not overlap: a change
  // during one makes one more, and step events that come meanwhile are applied over what it read.
  let reading = null;
  let readAgain = false;
  const held = [];

  function refresh() {
    if (reading) { readAgain = true; return reading; }
    reading = (async () => {
      try {
        do {
          readAgain = false;
          run = await api(`/api/runs/${encodeURIComponent(runId)}`);
        } while (readAgain);
        render();
      } finally {
        reading = null;
      }
      for (const event of held.splice(0)) onStep(event);
    })();
    return reading;
  }

  async function readStep(event) {
    try {
      const steps = await api(`/api/runs/${run.id}/attempts/${event.attempt}/steps`);
      const step = steps.find((one) => one.index === event.index);
      if (step) patchStep(event.attempt, step);
    } catch { /* the next read of the run has it */ }
  }

  function onStep(event) {
    if (reading || !run || event.attempt > run.attempts) {  // a newer attempt: its run event is on its way
      held.push(event);
      if (run && !reading) refresh().catch(() => {});
      return;
    }
    if (event.partial) { readStep(event); return; }  // its selector or error did not fit in the event
    const { kind: _kind, runId: _runId, attempt, ...step } = event;
    patchStep(attempt, step);
  }

  function onRun(event) {
    if (reading) { readAgain = true; return; }
    if (run && (event.status !== run.status || event.attempts !== run.attempts)) refresh().catch(() => {});
  }

  // No timer while the stream is up: it listens from before it answers, so a read made once it is open misses
  // nothing later, and every reconnection reads the run again. Only while it is down (API restarting, stream
  // refused) does the page poll, since it then has no other way to hear of a change.
  let poll = null;
  let contact;
  const contacted = new Promise((resolve) => { contact = resolve; });
  const unsubscribe = subscribe(`?runId=${encodeURIComponent(runId)}`,
    (kind, event) => (kind === "step" ? onStep(event) : onRun(event)), {
      onOpen: () => {
        clearInterval(poll);
        poll = null;
        if (run) refresh().catch(() => {});
        contact();
      },
      onDown: () => {
        poll ??= setInterval(() => { if (run && !FINAL.has(run.status)) refresh().catch(() => {}); }, 5000);
        contact();
      },
    });
  cleanup = () => { unsubscribe(); clearInterval(poll); };
  await contacted;
  await refresh();

  main.append(
    h("p", {}, h("a", { href: "#/runs" }, "← All runs")),
    heading, meta, errorBox,
    h("div", { class: "actions" }, cancel, retry),
    h("div", { class: "detail" },
      h("section", { "aria-label": "Video" }, video, noVideo, shot),
      h("section", { class: "panel", "aria-label": "Step timeline" },
        h("h2", {}, "Steps"), attemptField, stepCounts,
        h("p", { class: "muted" }, "Select a step to see it in the video."), stepsList)),
    visual,
    h("section", { class: "panel" }, h("h2", {}, "Artifacts"), artifacts),
    h("section", { class: "panel" }, h("h2", {}, "Attempts"),
      h("table", { "aria-label": "Attempts" },
        h("thead", {}, h("tr", {}, ...["Attempt", "Worker", "Status", "Error", "Started", "Finished"]
          .map((title) => h("th", { scope: "col" }, title)))),
        attempts)));
}

// ---- visual comparison (a run's compared screenshot steps) ----------------------------------------

// One panel per compared `screenshot` step of the shown attempt: its baseline, the image taken and their
// difference side by side, a slider that reveals the baseline over the image taken, and "Approve as new
// baseline" (POST /api/runs/{id}/steps/{index}/approve-baseline). Kept as it is while its images are the same,
// so that a slider someone moved stays where it is when the run is read again.
function renderVisual(container, run, attempt, steps) {
  const byStep = new Map();
  for (const a of run.artifacts) {
    if (a.attempt !== attempt || a.step === null || !a.kind.startsWith("visual-")) continue;
    if (!byStep.has(a.step)) byStep.set(a.step, {});
    byStep.get(a.step)[a.kind.slice("visual-".length)] = a;
  }
  const key = JSON.stringify([...byStep].map(([step, kinds]) => [step, Object.values(kinds).map((a) => a.id)]));
  if (container.dataset.key === key) return;
  container.dataset.key = key;
  container.replaceChildren(...[...byStep].sort(([a], [b]) => a - b).map(([index, kinds]) =>
    visualPanel(run, index, kinds, steps.find((step) => step.index === index))));
}

function visualPanel(run, index, kinds, step) {
  const picture = (artifact, what) => h("figure", { class: `visual-image visual-${what}` },
    artifact && artifact.url ? h("img", { src: local(artifact.url), alt: `${what} of step ${index + 1}` })
      : h("p", { class: "muted" }, artifact && artifact.removedAt ? removedNote(what, artifact)
        : what === "baseline" ? "No baseline yet: approve this image to make it one." : `No ${what} image.`),
    h("figcaption", {}, what[0].toUpperCase() + what.slice(1)));
  const verdict = step && step.error ? h("p", { class: "error-box" }, step.error)
    : step && step.warning ? h("p", { class: "step-warning" }, h("strong", {}, "warning: "), step.warning)
    : h("p", { class: "muted" }, kinds.baseline ? "Matches its baseline." : "");
  const children = [h("h2", {}, `Visual comparison: step ${index + 1}`), verdict,
    h("div", { class: "visual-images" }, picture(kinds.baseline, "baseline"), picture(kinds.actual, "actual"),
      picture(kinds.diff, "diff"))];
  if (kinds.baseline?.url && kinds.actual?.url) {
    // The image taken over the baseline, clipped at the slider: left of it the image taken, right the baseline.
    const over = h("img", { class: "visual-over", src: local(kinds.actual.url), alt: "" });
    const slider = h("input", { type: "range", min: "0", max: "100", value: "50", class: "visual-range",
                                "aria-label": `Reveal the baseline of step ${index + 1} under the image taken` });
    const reveal = () => over.style.setProperty("clip-path", `inset(0 ${100 - Number(slider.value)}% 0 0)`);
    slider.addEventListener("input", reveal);
    reveal();
    children.push(h("div", { class: "visual-slider" },
      h("div", { class: "visual-stack" },
        h("img", { class: "visual-under", src: local(kinds.baseline.url), alt: `Baseline of step ${index + 1}` }), over),
      h("div", { class: "visual-legend muted" }, h("span", {}, "◀ actual"), slider, h("span", {}, "baseline ▶"))));
  }
  const approve = h("button", { type: "button", class: "approve-baseline" }, "Approve as new baseline");
  approve.disabled = !run.recordingId || !kinds.actual?.url;
  approve.title = run.recordingId ? "" : "Only runs of a saved recording have baselines";
  approve.addEventListener("click", async () => {
    approve.disabled = true;
    try {
      const baseline = await api(`/api/runs/${run.id}/steps/${index}/approve-baseline`, { method: "POST" });
      toast(`Approved: the baseline of step ${index + 1} at ${baseline.viewportKey} is this run's image.`);
      approve.textContent = "Approved";
      approve.dataset.approved = "true";
    } catch (error) { toast(error.message); approve.disabled = false; }
  });
  children.push(h("div", { class: "actions" }, approve));
  return h("section", { class: "panel visual", "data-visual-step": index }, ...children);
}

// ---- queue and workers ---------------------------------------------------------------------------

function chart(stats) {
  const width = 720, height = 180, pad = 24;
  const totals = stats.buckets.map((b) => CHART_SERIES.reduce((sum, [key]) => sum + (b[key] || 0), 0));
  const top = Math.max(1, ...totals);
  const barWidth = (width - pad) / Math.max(1, stats.buckets.length);
  const all = totals.reduce((a, b) => a + b, 0);
  const figure = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img",
                              "aria-label": `${all} runs finished in the last ${stats.window}` });
  const styles = getComputedStyle(document.documentElement);
  stats.buckets.forEach((bucket, i) => {
    let y = height - pad;
    for (const [key, color] of CHART_SERIES) {
      const value = bucket[key] || 0;
      if (!value) continue;
      const barHeight = (value / top) * (height - pad * 2);
      y -= barHeight;
      const rect = svg("rect", { x: pad + i * barWidth, y, width: Math.max(1, barWidth - 1), height: barHeight,
                                 fill: styles.getPropertyValue(color).trim() });
      const title = svg("title");
      title.textContent = `${new Date(bucket.start).toLocaleTimeString()}: ${value} ${key}`;
      rect.append(title);
      figure.append(rect);
    }
  });
  const axis = svg("text", { x: 0, y: 14, "font-size": 11, fill: "#59636e" });
  axis.textContent = String(top);
  figure.append(axis, svg("line", { x1: pad, x2: width, y1: height - pad, y2: height - pad, stroke: "#d8dde3" }));
  return figure;
}

async function queuePage() {
  document.title = "Queue & workers · Reprise";
  const counts = h("div", { class: "counts", role: "list", "aria-label": "Jobs by state" });
  const pausedNote = h("p", { role: "status" });
  const toggle = h("button", { type: "button" });
  const windowSelect = h("select", { id: "window" }, h("option", { value: "hour" }, "last hour"),
                         h("option", { value: "day" }, "last 24 hours"));
  const chartBox = h("div", { class: "chart" });
  const workersBody = h("tbody");
  main.append(
    h("h1", {}, "Queue & workers"),
    h("section", { class: "panel" }, h("h2", {}, "Queue"), counts, pausedNote, toggle),
    h("section", { class: "panel" },
      h("h2", {}, "Throughput"),
      h("div", { class: "field" }, h("label", { for: "window" }, "Window"), windowSelect),
      h("div", { class: "legend" }, ...CHART_SERIES.map(([key, color]) =>
        h("span", { style: `--c: var(${color})` }, key))),
      chartBox),
    h("section", { class: "panel" }, h("h2", {}, "Workers"),
      h("table", { "aria-label": "Workers" },
        h("thead", {}, h("tr", {}, ...["Name", "Host", "State", "Browser", "Active", "Processed", "Failed",
          "Last heartbeat"].map((title) => h("th", { scope: "col" }, title)))),
        workersBody)));

  let paused = false;
  toggle.addEventListener("click", async () => {
    toggle.disabled = true;
    try { await api(`/api/queue/${paused ? "resume" : "pause"}`, { method: "POST" }); await refresh(); }
    catch (error) { toast(error.message); }
    toggle.disabled = false;
  });

  async function refreshChart() {
    try {
      const stats = await api(`/api/stats/throughput?window=${windowSelect.value}`);
      chartBox.replaceChildren(chart(stats));
    } catch (error) {
      chartBox.replaceChildren(h("p", { class: "muted" }, `Throughput unavailable: ${error.message}`));
    }
  }
  windowSelect.addEventListener("change", refreshChart);

  async function refresh() {
    const health = await api("/api/health/detailed");
    const queue = health.queue || {};
    paused = Boolean(queue.paused);
    counts.replaceChildren(...Object.entries(queue.counts || {}).map(([state, n]) =>
      h("div", { class: "count", role: "listitem", "data-state": state }, h("b", {}, String(n)), state)));
    pausedNote.textContent = paused ? "The queue is paused: workers claim no new runs." : "The queue is running.";
    toggle.textContent = paused ? "Resume queue" : "Pause queue";
    const now = Date.now() / 1000;
    workersBody.replaceChildren(...(health.workers || []).map((w) => h("tr", { "data-worker": w.name },
      h("td", {}, w.name), h("td", {}, w.host), h("td", {}, w.state),
      h("td", {}, (w.browser && w.browser.state) || "—"),
      h("td", {}, `${w.activeJobs} / ${w.concurrency}`), h("td", {}, String(w.processed)),
      h("td", {}, String(w.failed)), h("td", {}, `${Math.max(0, Math.round(now - w.lastHeartbeat))} s ago`))));
    if (!workersBody.children.length) {
      workersBody.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No worker is alive.")));
    }
  }
  await Promise.all([refresh(), refreshChart()]);
  const timer = setInterval(() => { refresh().catch(() => {}); refreshChart(); }, 5000);
  cleanup = () => clearInterval(timer);
}

// ---- recordings ----------------------------------------------------------------------------------

async function recordingsPage() {
  document.title = "Recordings · Reprise";
  const input = h("input", { type: "file", id: "recording-file", accept: "application/json,.json" });
  const drop = h("div", { class: "drop" },
    h("p", {}, "Drop a Chrome Recorder (or Reprise, SaveAction) JSON file here, or "),
    h("label", { for: "recording-file" }, "choose a file: "), input);
  const status = h("p", { id: "upload-status", role: "status", "aria-live": "polite" });
  const body = h("tbody");
  main.append(h("h1", {}, "Recordings"), drop, status,
    h("table", { "aria-label": "Recordings" },
      h("thead", {}, h("tr", {}, ...["Name", "Format", "Steps", "Added", "Last run", ""]
        .map((title) => h("th", { scope: "col" }, title)))),
      body));

  async function upload(file) {
    status.textContent = `Uploading ${file.name}…`;
    try {
      const script = JSON.parse(await file.text());
      const saved = await api("/api/recordings", { method: "POST", body: JSON.stringify({ script }) });
      status.textContent = `Added “${saved.name}”.`;
      await load();
    } catch (error) {
      status.textContent = `${file.name} was not added: ${error.message}`;
    }
  }
  input.addEventListener("change", () => { if (input.files[0]) upload(input.files[0]); });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    if (event.dataTransfer.files[0]) upload(event.dataTransfer.files[0]);
  });

  async function load() {
    const page = await api("/api/recordings?limit=200");
    body.replaceChildren(...page.items.map((recording) => {
      const runNow = h("button", { type: "button", class: "primary" }, "Run now");
      runNow.setAttribute("aria-label", `Run ${recording.name} now`);
      runNow.addEventListener("click", async () => {
        runNow.disabled = true;
        try {
          const run = await api(`/api/recordings/${recording.id}/runs`, { method: "POST", body: "{}" });
          location.hash = `#/runs/${run.id}`;
        } catch (error) { toast(error.message); runNow.disabled = false; }
      });
      return h("tr", { "data-recording-id": recording.id },
        h("td", { class: "name" }, h("a", { href: `#/recordings/${recording.id}/history`,
                                            "data-history-link": recording.id, title: `History of ${recording.name}` },
          recording.name),
          recording.quarantine ? [" ", h("span", { class: "badge quarantined", "data-mark": "quarantined",
                                                   title: recording.quarantine.reason || "quarantined" },
                                         "quarantined")] : null),
        h("td", {}, recording.format),
        h("td", {}, String(recording.stepCount)), h("td", {}, when(recording.createdAt)),
        h("td", {}, recording.lastRun
          ? h("a", { href: `#/runs/${recording.lastRun.id}` }, `#${recording.lastRun.number} `,
              badge(recording.lastRun.status))
          : "—"),
        h("td", {}, runNow));
    }));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No recordings yet.")));
  }
  await load();
}

// ---- schedules -----------------------------------------------------------------------------------

function cadence(schedule) {
  if (schedule.everyMs !== null) {
    const seconds = schedule.everyMs / 1000;
    return `every ${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
  }
  return `${schedule.cron} (${schedule.timezone || "UTC"})`;
}

async function schedulesPage(params) {
  document.title = "Schedules · Reprise";
  const focus = params.get("focus");
  const recordingPicker = h("select", { id: "schedule-recording", name: "recordingId", required: true });
  const kind = h("select", { id: "schedule-kind", name: "kind" },
    h("option", { value: "cron" }, "on a cron pattern"), h("option", { value: "every" }, "every N seconds"));
  const cron = h("input", { id: "schedule-cron", name: "cron", type: "text", placeholder: "0 30 9 * * 1-5",
                            spellcheck: "false", autocomplete: "off" });
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const timezone = h("input", { id: "schedule-timezone", name: "timezone", type: "text", list: "timezones",
                                placeholder: "UTC", autocomplete: "off",
                                value: Intl.DateTimeFormat().resolvedOptions().timeZone || "" });
  const every = h("input", { id: "schedule-every", name: "every", type: "number", min: "1", step: "any",
                             placeholder: "60" });
  const priority = h("select", { id: "schedule-priority", name: "priority" },
    h("option", { value: "" }, "the recording's"), ...PRIORITIES.map((p) => h("option", { value: p }, p)));
  const name = h("input", { id: "schedule-name", name: "name", type: "text", placeholder: "the recording's name" });
  const skip = h("input", { id: "schedule-skip", name: "skipIfRunning", type: "checkbox", checked: true });
  const cronField = h("div", { class: "field" }, h("label", { for: "schedule-cron" }, "Cron pattern"), cron,
    h("span", { class: "muted hint" }, "5 fields, or 6 with seconds first"));
  const zoneField = h("div", { class: "field" }, h("label", { for: "schedule-timezone" }, "Time zone"), timezone,
    h("datalist", { id: "timezones" }, ...zones.map((zone) => h("option", { value: zone }))));
  const everyField = h("div", { class: "field" }, h("label", { for: "schedule-every" }, "Every (seconds)"), every);
  const status = h("p", { id: "schedule-status", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "panel schedule-form", "aria-label": "New schedule" },
    h("h2", {}, "New schedule"),
    h("div", { class: "fields" },
      h("div", { class: "field" }, h("label", { for: "schedule-recording" }, "Recording"), recordingPicker),
      h("div", { class: "field" }, h("label", { for: "schedule-kind" }, "Runs"), kind),
      cronField, zoneField, everyField,
      h("div", { class: "field" }, h("label", { for: "schedule-priority" }, "Priority"), priority),
      h("div", { class: "field" }, h("label", { for: "schedule-name" }, "Name"), name),
      h("div", { class: "field check" }, h("label", { for: "schedule-skip" }, skip,
        " Skip a tick while its last run is still going"))),
    h("button", { type: "submit", class: "primary" }, "Create schedule"), status);
  const body = h("tbody");
  main.append(h("h1", {}, "Schedules"), form,
    h("table", { "aria-label": "Schedules" },
      h("thead", {}, h("tr", {}, ...["Name", "Recording", "When", "Next run", "State", "Runs", "Last run", ""]
        .map((title) => h("th", { scope: "col" }, title)))),
      body));

  function showKind() {
    const byCron = kind.value === "cron";
    cronField.hidden = !byCron;
    zoneField.hidden = !byCron;
    everyField.hidden = byCron;
  }
  kind.addEventListener("change", showKind);
  showKind();

  const recordings = await api("/api/recordings?limit=200");
  recordingPicker.replaceChildren(...recordings.items.map((r) => h("option", { value: r.id }, r.name)));
  if (!recordings.items.length) {
    recordingPicker.append(h("option", { value: "" }, "no recording saved yet"));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { recordingId: recordingPicker.value, skipIfRunning: skip.checked, options: {} };
    if (kind.value === "cron") {
      body.cron = cron.value.trim();
      if (timezone.value.trim()) body.timezone = timezone.value.trim();
    } else {
      body.everyMs = Math.round(Number(every.value) * 1000);
    }
    if (priority.value) body.options.priority = priority.value;
    if (name.value.trim()) body.name = name.value.trim();
    try {
      const created = await api("/api/schedules", { method: "POST", body: JSON.stringify(body) });
      status.textContent = `Schedule “${created.name}” created.`;
      await load();
    } catch (error) {
      status.textContent = `Not created: ${error.message}`;
    }
  });

  function actions(schedule) {
    const buttons = [];
    if (schedule.state !== "stopped") {
      const paused = schedule.state === "paused";
      const toggle = h("button", { type: "button", "data-action": paused ? "resume" : "pause" },
        paused ? "Resume" : "Pause");
      toggle.setAttribute("aria-label", `${paused ? "Resume" : "Pause"} ${schedule.name}`);
      toggle.addEventListener("click", async () => {
        toggle.disabled = true;
        try { await api(`/api/schedules/${schedule.id}/${paused ? "resume" : "pause"}`, { method: "POST" }); }
        catch (error) { toast(error.message); }
        await load().catch((error) => toast(error.message));
      });
      buttons.push(toggle);
    }
    const remove = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
    remove.setAttribute("aria-label", `Delete ${schedule.name}`);
    remove.addEventListener("click", async () => {
      remove.disabled = true;
      try { await api(`/api/schedules/${schedule.id}`, { method: "DELETE" }); }
      catch (error) { toast(error.message); }
      await load().catch((error) => toast(error.message));
    });
    buttons.push(remove);
    return h("div", { class: "row-actions" }, ...buttons);
  }

  function row(schedule) {
    return h("tr", { "data-schedule-id": schedule.id, "data-state": schedule.state,
                     class: schedule.id === focus ? "focused" : null },
      h("td", { class: "name" }, schedule.name),
      h("td", { class: "name" }, schedule.recordingName),
      h("td", { class: "cadence" }, cadence(schedule), " ", priorityBadge(schedule.priority)),
      h("td", { class: "next-run" }, schedule.nextRunAt ? when(schedule.nextRunAt) : "—"),
      h("td", { class: "state" }, h("span", { class: `state ${schedule.state}` }, schedule.state),
        schedule.stoppedReason ? h("div", { class: "muted stopped-reason" }, schedule.stoppedReason) : null),
      h("td", { class: "counts-cell" },
        h("a", { href: `#/runs?schedule=${schedule.id}` }, `${schedule.runsMade} run${schedule.runsMade === 1 ? "" : "s"}`),
        schedule.ticksSkipped ? h("div", { class: "muted", title: schedule.lastSkipReason || "" },
          `${schedule.ticksSkipped} skipped`) : null),
      h("td", { class: "last-run" }, schedule.lastRun
        ? h("a", { href: `#/runs/${schedule.lastRun.id}` }, `#${schedule.lastRun.number} `,
            badge(schedule.lastRun.status))
        : "—"),
      h("td", {}, actions(schedule)));
  }

  async function load() {
    const page = await api("/api/schedules?limit=200");
    body.replaceChildren(...page.items.map(row));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No schedules yet.")));
  }
  await load();
  // The next run time moves with every tick: poll (the page is small).
  const timer = setInterval(() => { load().catch(() => {}); }, 3000);
  cleanup = () => clearInterval(timer);
}

// ---- suites --------------------------------------------------------------------------------------


function countsText(counts, total) {
  const quarantined = counts.quarantined ? ` · ${counts.quarantined} quarantined` : "";
  return `${counts.passed} passed · ${counts.failed} failed · ${counts.error} error · ${counts.cancelled} cancelled` +
    `${quarantined} (of ${total})`;
}

async function suitesPage() {
  document.title = "Suites · Reprise";
  const recordings = (await api("/api/recordings?limit=200")).items;
  const name = h("input", { id: "suite-name", required: true, maxlength: 200, autocomplete: "off" });
  const picks = recordings.map((recording) => h("label", { class: "pick" },
    h("input", { type: "checkbox", value: recording.id, "data-recording": recording.name }), " ", recording.name));
  const status = h("p", { role: "status", "aria-live": "polite" });
  const form = h("form", { class: "suite-form", "aria-label": "New suite" },
    h("h2", {}, "New suite"),
    h("p", {}, h("label", { for: "suite-name" }, "Name "), name),
    h("fieldset", {}, h("legend", {}, "Recordings, in the order they run"),
      ...(picks.length ? picks : [h("p", { class: "muted" }, "Save a recording first (Recordings).")])),
    h("button", { type: "submit", class: "primary" }, "Create suite"), status);
  const body = h("tbody");
  const runsBody = h("tbody");
  main.append(h("h1", {}, "Suites"),
    h("table", { "aria-label": "Suites" },
      h("thead", {}, h("tr", {}, ...["Name", "Recordings", "Last run", ""].map((t) => h("th", { scope: "col" }, t)))),
      body),
    form,
    h("h2", {}, "Recent suite runs"),
    h("table", { "aria-label": "Suite runs" },
      h("thead", {}, h("tr", {}, ...["Run", "Suite", "Status", "Counts", "Duration", "Queued"]
        .map((t) => h("th", { scope: "col" }, t)))),
      runsBody));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const recordingIds = picks.map((label) => label.querySelector("input")).filter((box) => box.checked)
      .map((box) => box.value);
    try {
      await api("/api/suites", { method: "POST", body: JSON.stringify({ name: name.value, recordingIds }) });
      status.textContent = `Created “${name.value}”.`;
      form.reset();
      await load();
    } catch (error) { status.textContent = `Not created: ${error.message}`; }
  });

  async function load() {
    const [suites, suiteRuns] = await Promise.all([api("/api/suites?limit=200"), api("/api/suite-runs?limit=20")]);
    body.replaceChildren(...suites.items.map((suite) => {
      const runNow = h("button", { type: "button", class: "primary" }, "Run suite");
      runNow.setAttribute("aria-label", `Run suite ${suite.name}`);
      runNow.addEventListener("click", async () => {
        runNow.disabled = true;
        try {
          const suiteRun = await api(`/api/suites/${suite.id}/runs`, { method: "POST", body: "{}" });
          location.hash = `#/suite-runs/${suiteRun.id}`;
        } catch (error) { toast(error.message); runNow.disabled = false; }
      });
      return h("tr", { "data-suite-id": suite.id },
        h("td", { class: "name" }, suite.name), h("td", {}, String(suite.recordingIds.length)),
        h("td", {}, suite.lastRun
          ? h("a", { href: `#/suite-runs/${suite.lastRun.id}` }, `#${suite.lastRun.number} `, badge(suite.lastRun.status))
          : "—"),
        h("td", {}, runNow));
    }));
    if (!suites.items.length) body.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No suites yet.")));
    runsBody.replaceChildren(...suiteRuns.items.map((item) => h("tr", { "data-suite-run-id": item.id },
      h("td", {}, h("a", { href: `#/suite-runs/${item.id}` }, `#${item.number}`)), h("td", {}, item.suiteName),
      h("td", {}, badge(item.status)), h("td", {}, countsText(item.counts, item.total)),
      h("td", {}, duration(item.durationMs)), h("td", {}, when(item.createdAt)))));
    if (!suiteRuns.items.length) {
      runsBody.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No suite runs yet.")));
    }
  }
  await load();
}

async function suiteRunPage(suiteRunId) {
  const heading = h("h1", {});
  const facts = h("dl", { class: "meta" });
  const cancel = h("button", { type: "button" }, "Cancel suite run");
  const body = h("tbody");
  main.append(h("p", {}, h("a", { href: "#/suites" }, "← All suites")), heading, facts, h("p", {}, cancel),
    h("table", { "aria-label": "Runs of this suite run" },
      h("thead", {}, h("tr", {}, ...["Run", "Recording", "Status", "Duration", "Error"]
        .map((t) => h("th", { scope: "col" }, t)))),
      body));
  let suiteRun = null;

  async function refresh() {
    suiteRun = await api(`/api/suite-runs/${suiteRunId}`);
    document.title = `Suite run #${suiteRun.number} · Reprise`;
    heading.replaceChildren(`Suite ${suiteRun.suiteName} · #${suiteRun.number} `, badge(suiteRun.status));
    facts.replaceChildren(...[
      ["Counts", h("span", { "data-counts": "" }, countsText(suiteRun.counts, suiteRun.total))],
      ["Duration", duration(suiteRun.durationMs)], ["Created", when(suiteRun.createdAt)],
      ["Started", when(suiteRun.startedAt)], ["Finished", when(suiteRun.finishedAt)],
      ["Queued by", suiteRun.queuedBy || "—"],
    ].map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))));
    cancel.disabled = SUITE_FINAL.has(suiteRun.status) || suiteRun.cancelRequested;
    body.replaceChildren(...suiteRun.runs.map((run) => h("tr", { "data-run-id": run.id },
      h("td", {}, h("a", { href: `#/runs/${run.id}` }, `#${run.number}`)), h("td", { class: "name" }, run.name),
      h("td", {}, badge(run.status), runMarks(run),
        (suiteRun.ignoredRuns || []).includes(run.id)
          ? h("div", { class: "muted ignored", "data-ignored": "" }, "ignored by the suite's result") : null),
      h("td", {}, duration(run.durationMs)),
      h("td", { class: "run-error" }, run.error || ""))));
  }
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try { await api(`/api/suite-runs/${suiteRunId}/cancel`, { method: "POST" }); await refresh(); }
    catch (error) { toast(error.message); }
  });
  await refresh();
  // Until the suite's result is decided: its children change under it.
  const timer = setInterval(() => {
    if (suiteRun && !SUITE_FINAL.has(suiteRun.status)) refresh().catch(() => {});
  }, 2000);
  cleanup = () => clearInterval(timer);
}

// ---- flaky tests and quarantine ------------------------------------------------------------------

const FLAKY_WINDOWS = [10, 20, 50, 100];

async function flakyPage(params) {
  document.title = "Flaky · Reprise";
  const chosen = Number(params.get("runs")) || null;
  const windowSelect = h("select", { id: "flaky-window" },
    h("option", { value: "" }, "default"),
    ...FLAKY_WINDOWS.map((n) => h("option", { value: String(n) }, `last ${n} runs`)));
  windowSelect.value = chosen ? String(chosen) : "";
  windowSelect.addEventListener("change", () => {
    location.hash = windowSelect.value ? `#/flaky?runs=${windowSelect.value}` : "#/flaky";
  });
  const body = h("tbody");
  const summary = h("p", { class: "muted", id: "flaky-summary", role: "status", "aria-live": "polite" });
  main.append(h("h1", {}, "Flaky tests"),
    h("p", { class: "muted" }, "Score: (flips + flaky runs) / (runs − 1) over each recording's last passed or failed ",
      "runs; a flip is two consecutive runs against the same base URL with different verdicts. A quarantined ",
      "recording still runs, but its failures do not fail a suite or reprise submit."),
    h("div", { class: "field" }, h("label", { for: "flaky-window" }, "Window"), windowSelect), summary,
    h("table", { "aria-label": "Recordings by flakiness" },
      h("thead", {}, h("tr", {}, ...["Recording", "Score", "Flips", "Flaky runs", "Last runs", "Quarantine", ""]
        .map((t) => h("th", { scope: "col" }, t)))),
      body));

  function lastRuns(item) {
    return h("span", { class: "last-runs" }, ...[...item.lastRuns].reverse().map((run) =>
      h("a", { href: `#/runs/${run.id}`, class: `dot ${run.status}${run.flaky ? " flaky" : ""}`,
               "data-status": run.status,
               title: `#${run.number} ${run.status}${run.flaky ? " (flaky)" : ""} · ${run.target}`,
               "aria-label": `#${run.number} ${run.status}${run.flaky ? " (flaky)" : ""}` })));
  }

  function row(item) {
    const reason = h("input", { type: "text", name: "reason", maxlength: 1000, placeholder: "reason",
                                "aria-label": `Reason to quarantine ${item.name}` });
    const button = h("button", { type: "button", class: item.quarantine ? "" : "danger" },
      item.quarantine ? "Release" : "Quarantine");
    button.setAttribute("aria-label", `${item.quarantine ? "Release" : "Quarantine"} ${item.name}`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const path = `/api/recordings/${item.recordingId}/quarantine`;
        if (item.quarantine) await api(path, { method: "DELETE" });
        else await api(path, { method: "POST", body: JSON.stringify({ reason: reason.value || null }) });
        await load();
      } catch (error) { toast(error.message); button.disabled = false; }
    });
    const q = item.quarantine;
    return h("tr", { "data-recording-id": item.recordingId, "data-score": item.flakiness.score,
                     "data-quarantined": q ? "true" : "false" },
      h("td", { class: "name" }, h("a", { href: `#/recordings/${item.recordingId}/history` }, item.name),
        q ? [" ", h("span", { class: "badge quarantined", "data-mark": "quarantined" }, "quarantined")] : null),
      h("td", { class: "score" }, h("b", {}, item.flakiness.score.toFixed(2)),
        h("div", { class: "muted" }, `${item.flakiness.runs} run${item.flakiness.runs === 1 ? "" : "s"}`)),
      h("td", { class: "flips" }, String(item.flakiness.flips)),
      h("td", { class: "flaky-runs" }, String(item.flakiness.flakyRuns)),
      h("td", {}, lastRuns(item)),
      h("td", { class: "quarantine" }, q
        ? [h("div", { class: "quarantine-reason" }, q.reason || "no reason given"),
           h("div", { class: "muted" }, `by ${q.by || "—"} · `, when(q.at))]
        : "—"),
      h("td", {}, h("div", { class: "row-actions" }, q ? null : reason, button)));
  }

  async function load() {
    const query = new URLSearchParams({ limit: "200" });
    if (chosen) query.set("runs", String(chosen));
    const page = await api(`/api/flaky?${query}`);
    body.replaceChildren(...page.items.map(row));
    if (!page.items.length) {
      body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No recording has passed or failed yet.")));
    }
    const quarantined = page.items.filter((item) => item.quarantine).length;
    summary.textContent = `${page.total} recording${page.total === 1 ? "" : "s"} · ${quarantined} quarantined`;
  }
  await load();
}

// ---- run history and compare ---------------------------------------------------------------------

const HISTORY_WINDOWS = [7, 30, 90, 365];

function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10}%`;
}

function signedDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms === 0) return "±0 ms";
  return `${ms > 0 ? "+" : "−"}${duration(Math.abs(ms))}`;
}

function stepLabel(step) {
  return `Step ${step.index + 1}: ${step.type}${step.selector ? ` ${step.selector}` : ""}`;
}

// The runs oldest to newest, left to right: a bar per run, its height the run's duration, its colour its status.
function historyStrip(runs) {
  const width = 640;
  const height = 64;
  const figure = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
                              "aria-label": "The last runs' statuses and durations, oldest first" });
  const ordered = [...runs].reverse();
  const longest = Math.max(1, ...ordered.map((run) => run.durationMs || 0));
  const barWidth = Math.min(24, width / Math.max(1, ordered.length));
  const styles = getComputedStyle(document.documentElement);
  ordered.forEach((run, i) => {
    const barHeight = run.durationMs ? Math.max(3, (run.durationMs / longest) * (height - 4)) : 3;
    const rect = svg("rect", { x: i * barWidth, y: height - barHeight, width: Math.max(1, barWidth - 2),
                               height: barHeight, fill: styles.getPropertyValue(`--${run.status}`).trim() || "#999",
                               "data-run-id": run.id, "data-status": run.status });
    const title = svg("title");
    title.textContent = `#${run.number} ${run.status}, ${duration(run.durationMs)}`;
    rect.append(title);
    figure.append(rect);
  });
  return figure;
}

function compareHash(a, b) {
  return `#/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
}

async function recordingHistory(recordingId, params) {
  const days = HISTORY_WINDOWS.includes(Number(params.get("days"))) ? Number(params.get("days")) : 30;
  const history = await api(`/api/recordings/${encodeURIComponent(recordingId)}/history?limit=50&days=${days}`);
  document.title = `History of ${history.name} · Reprise`;
  const windowSelect = h("select", { id: "history-window" },
    ...HISTORY_WINDOWS.map((d) => h("option", { value: d, selected: d === days }, `last ${d} days`)));
  windowSelect.addEventListener("change", () => {
    location.hash = `#/recordings/${recordingId}/history?days=${windowSelect.value}`;
  });
  const finished = Object.entries(history.counts).filter(([, n]) => n > 0);

  const pickA = h("select", { id: "compare-a", name: "a" });
  const pickB = h("select", { id: "compare-b", name: "b" });
  const options = history.runs.map((run) => [run.id, `#${run.number} (${run.status})`]);
  pickA.replaceChildren(...options.map(([id, label]) => h("option", { value: id }, label)));
  pickB.replaceChildren(...options.map(([id, label]) => h("option", { value: id }, label)));
  if (history.runs.length > 1) { pickA.value = history.runs[1].id; pickB.value = history.runs[0].id; }
  const compareForm = h("form", { class: "panel compare-form", "aria-label": "Compare two runs" },
    h("div", { class: "field" }, h("label", { for: "compare-a" }, "Compare run"), pickA),
    h("div", { class: "field" }, h("label", { for: "compare-b" }, "with run"), pickB),
    h("button", { type: "submit", class: "primary", disabled: history.runs.length < 2 }, "Compare"));
  compareForm.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = compareHash(pickA.value, pickB.value);
  });

  const body = h("tbody");
  history.runs.forEach((run, i) => {
    const previous = history.runs[i + 1];
    body.append(h("tr", { "data-run-id": run.id, "data-status": run.status },
      h("td", {}, h("a", { href: `#/runs/${run.id}` }, `#${run.number}`)),
      h("td", {}, badge(run.status)),
      h("td", {}, duration(run.durationMs)),
      h("td", { class: "failing-step" }, run.failingStep
        ? [h("div", {}, stepLabel(run.failingStep)),
           run.failingStep.error ? h("div", { class: "step-error" }, run.failingStep.error) : null]
        : (run.error ? h("div", { class: "muted" }, run.error) : "—")),
      h("td", {}, when(run.finishedAt || run.createdAt)),
      h("td", {}, previous
        ? h("a", { href: compareHash(previous.id, run.id), "data-compare-previous": run.id },
            `compare with #${previous.number}`)
        : "")));
  });
  if (!history.runs.length) {
    body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, `No runs in the last ${days} days.`)));
  }

  main.append(
    h("p", { class: "muted" }, h("a", { href: "#/recordings" }, "Recordings"), " › history"),
    h("h1", {}, "History of ", h("span", { class: "recording-name" }, history.name)),
    h("section", { class: "panel history-summary" },
      h("div", { class: "field" }, h("label", { for: "history-window" }, "Window"), windowSelect),
      h("div", { class: "counts" },
        h("div", { class: "count", id: "pass-rate" }, h("b", {}, percent(history.passRate)), "pass rate"),
        h("div", { class: "count", id: "median-duration" },
          h("b", {}, duration(history.medianDurationMs === null ? null : Math.round(history.medianDurationMs))),
          "median duration"),
        ...finished.map(([status, n]) => h("div", { class: "count", "data-count": status },
          h("b", {}, String(n)), status))),
      h("div", { class: "strip" }, historyStrip(history.runs))),
    compareForm,
    h("table", { "aria-label": "Runs of the recording" },
      h("thead", {}, h("tr", {}, ...["Run", "Status", "Duration", "Failing step", "Finished", ""]
        .map((title) => h("th", { scope: "col" }, title)))),
      body));
}

function comparedSide(side) {
  if (!side) return [h("td", { class: "muted" }, "—"), h("td", { class: "muted" }, "—")];
  return [
    h("td", {}, badge(side.status), side.error ? h("div", { class: "step-error" }, side.error) : null),
    h("td", {}, duration(side.durationMs)),
  ];
}

async function comparePage(params) {
  const a = params.get("a");
  const b = params.get("b");
  if (!a || !b) throw new Error("Pick two runs of a recording to compare (its history page).");
  const comparison = await api(`/api/runs/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  const runA = comparison.a;
  const runB = comparison.b;
  document.title = `Compare #${runA.number} and #${runB.number} · Reprise`;
  const first = comparison.steps.find((step) => step.index === comparison.firstDifference) || null;
  const runPanel = (label, run) => h("div", { class: "panel compared-run", "data-side": label },
    h("h2", {}, `${label}: `, h("a", { href: `#/runs/${run.id}` }, `#${run.number}`), " ", badge(run.status)),
    h("p", {}, duration(run.durationMs), " · ", when(run.finishedAt || run.createdAt)),
    run.error ? h("p", { class: "step-error" }, run.error) : null);
  const rows = comparison.steps.map((step) => h("tr", {
    "data-step": step.index, "data-differs": String(step.differs),
    class: [step.differs ? "differs" : "", step.index === comparison.firstDifference ? "first-difference" : ""]
      .filter(Boolean).join(" ") || null,
  },
  h("td", {}, String(step.index + 1)),
  h("td", {}, h("strong", {}, step.type), step.selector ? h("div", { class: "selector" }, step.selector) : null),
  ...comparedSide(step.a), ...comparedSide(step.b),
  h("td", { class: "delta" }, signedDuration(step.durationDeltaMs))));
  main.append(
    h("p", { class: "muted" }, h("a", { href: `#/recordings/${comparison.recordingId}/history` }, "History of ",
      runA.name)),
    h("h1", {}, `Compare #${runA.number} and #${runB.number}`),
    h("div", { class: "compared-runs" }, runPanel("A", runA), runPanel("B", runB)),
    h("p", { id: "first-difference", role: "status" }, first
      ? ["First difference: ", h("a", { href: "#", onclick: (event) => {
          event.preventDefault();
          main.querySelector("tr.first-difference")?.scrollIntoView({ block: "center" });
        } }, stepLabel(first))]
      : "No step differs: the runs differ in durations only."),
    h("table", { "aria-label": "Steps compared", class: "compare" },
      h("thead", {},
        h("tr", {}, h("th", { scope: "col", rowspan: 2 }, "#"), h("th", { scope: "col", rowspan: 2 }, "Step"),
          h("th", { scope: "colgroup", colspan: 2 }, `A: #${runA.number}`),
          h("th", { scope: "colgroup", colspan: 2 }, `B: #${runB.number}`),
          h("th", { scope: "col", rowspan: 2 }, "Δ duration")),
        h("tr", {}, ...["Status", "Duration", "Status", "Duration"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
  if (!rows.length) main.append(h("p", { class: "muted" }, "Neither run has steps yet."));
}

// ---- webhooks ------------------------------------------------------------------------------------

function scopeText(webhook) {
  if (webhook.scope === "recording") return `recording ${webhook.recordingId.slice(0, 8)}`;
  if (webhook.scope === "suite") return `suite ${webhook.suiteId.slice(0, 8)}`;
  return "all runs";
}

async function webhooksPage() {
  document.title = "Webhooks · Reprise";
  const name = h("input", { id: "webhook-name", name: "name", type: "text", required: true, placeholder: "ci-alerts" });
  const url = h("input", { id: "webhook-url", name: "url", type: "url", required: true, spellcheck: "false",
                           placeholder: "https://hooks.example.com/reprise" });
  const events = WEBHOOK_EVENTS.map((event) => h("input", {
    id: `webhook-event-${event}`, type: "checkbox", name: "events", value: event, checked: event !== WEBHOOK_EVENTS[0] }));
  const format = h("select", { id: "webhook-format", name: "format" },
    ...WEBHOOK_FORMATS.map((kind) => h("option", { value: kind }, kind)));
  const scope = h("select", { id: "webhook-scope", name: "scope" },
    h("option", { value: "all" }, "all runs"), h("option", { value: "recording" }, "one recording"),
    h("option", { value: "suite" }, "one suite"));
  const recordingPicker = h("select", { id: "webhook-recording", name: "recordingId" });
  const suite = h("input", { id: "webhook-suite", name: "suiteId", type: "text", placeholder: "suite id",
                             spellcheck: "false" });
  const recordingField = h("div", { class: "field" }, h("label", { for: "webhook-recording" }, "Recording"),
    recordingPicker);
  const suiteField = h("div", { class: "field" }, h("label", { for: "webhook-suite" }, "Suite"), suite);
  const status = h("p", { id: "webhook-status", role: "status", "aria-live": "polite" });
  const form = h("form", { class: "panel webhook-form", "aria-label": "New webhook" },
    h("h2", {}, "New webhook"),
    h("div", { class: "fields" },
      h("div", { class: "field" }, h("label", { for: "webhook-name" }, "Name"), name),
      h("div", { class: "field" }, h("label", { for: "webhook-url" }, "URL"), url),
      h("div", { class: "field" }, h("label", { for: "webhook-format" }, "Format"), format),
      h("div", { class: "field" }, h("label", { for: "webhook-scope" }, "Scope"), scope),
      recordingField, suiteField,
      h("fieldset", { class: "field" }, h("legend", {}, "Events"),
        ...events.map((box) => h("label", { for: box.id }, box, ` ${box.value}`)))),
    h("button", { type: "submit", class: "primary" }, "Create webhook"), status);
  const body = h("tbody");
  main.append(h("h1", {}, "Webhooks"), form,
    h("table", { "aria-label": "Webhooks" },
      h("thead", {}, h("tr", {}, ...["Name", "URL", "Events", "Scope", "Format", "Last delivery", ""]
        .map((title) => h("th", { scope: "col" }, title)))),
      body));

  function showScope() {
    recordingField.hidden = scope.value !== "recording";
    suiteField.hidden = scope.value !== "suite";
  }
  scope.addEventListener("change", showScope);
  showScope();
  const recordings = await api("/api/recordings?limit=200");
  recordingPicker.replaceChildren(...recordings.items.map((r) => h("option", { value: r.id }, r.name)));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const request = { name: name.value.trim(), url: url.value.trim(), format: format.value, scope: scope.value,
                      events: events.filter((box) => box.checked).map((box) => box.value) };
    if (scope.value === "recording") request.recordingId = recordingPicker.value;
    if (scope.value === "suite") request.suiteId = suite.value.trim();
    try {
      const created = await api("/api/webhooks", { method: "POST", body: JSON.stringify(request) });
      // The secret is in this answer only: shown once, to be copied into the receiver.
      status.replaceChildren(`Webhook “${created.name}” created. Its signing secret (shown once): `,
        h("code", { class: "secret", "data-secret": "" }, created.secret));
      await load();
    } catch (error) {
      status.textContent = `Not created: ${error.message}`;
    }
  });

  function actions(webhook) {
    const toggle = h("button", { type: "button", "data-action": webhook.active ? "deactivate" : "activate" },
      webhook.active ? "Turn off" : "Turn on");
    toggle.setAttribute("aria-label", `${webhook.active ? "Turn off" : "Turn on"} ${webhook.name}`);
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        await api(`/api/webhooks/${webhook.id}`, { method: "PATCH", body: JSON.stringify({ active: !webhook.active }) });
      } catch (error) { toast(error.message); }
      await load().catch((error) => toast(error.message));
    });
    const remove = h("button", { type: "button", class: "danger", "data-action": "delete" }, "Delete");
    remove.setAttribute("aria-label", `Delete ${webhook.name}`);
    remove.addEventListener("click", async () => {
      remove.disabled = true;
      try { await api(`/api/webhooks/${webhook.id}`, { method: "DELETE" }); }
      catch (error) { toast(error.message); }
      await load().catch((error) => toast(error.message));
    });
    return h("div", { class: "row-actions" }, toggle, remove);
  }

  function row(webhook) {
    return h("tr", { "data-webhook-id": webhook.id, "data-active": String(webhook.active) },
      h("td", { class: "name" }, h("a", { href: `#/webhooks/${webhook.id}` }, webhook.name),
        webhook.active ? null : h("span", { class: "muted" }, " (off)")),
      h("td", { class: "name" }, webhook.url),
      h("td", {}, webhook.events.join(", ")),
      h("td", {}, scopeText(webhook)),
      h("td", {}, webhook.format),
      h("td", {}, webhook.lastDelivery ? [badge(webhook.lastDelivery.status), " ", when(webhook.lastDelivery.at)] : "—"),
      h("td", {}, actions(webhook)));
  }

  async function load() {
    const page = await api("/api/webhooks?limit=200");
    body.replaceChildren(...page.items.map(row));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No webhooks yet.")));
  }
  await load();
}

async function webhookDetail(id) {
  const webhook = await api(`/api/webhooks/${id}`);
  document.title = `${webhook.name} · Webhooks · Reprise`;
  const ping = h("button", { type: "button", "data-action": "test" }, "Send test");
  ping.addEventListener("click", async () => {
    try { await api(`/api/webhooks/${id}/test`, { method: "POST" }); await load(); }
    catch (error) { toast(error.message); }
  });
  const log = h("tbody");
  main.append(
    h("p", {}, h("a", { href: "#/webhooks" }, "← All webhooks")),
    h("h1", {}, webhook.name),
    h("dl", { class: "meta" },
      ...[["URL", webhook.url], ["Events", webhook.events.join(", ")], ["Scope", scopeText(webhook)],
          ["Format", webhook.format], ["Secret", webhook.secret], ["Active", webhook.active ? "yes" : "no"]]
        .flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    h("div", { class: "row-actions" }, ping),
    h("h2", {}, "Deliveries"),
    h("table", { "aria-label": "Deliveries", class: "deliveries" },
      h("thead", {}, h("tr", {}, ...["Created", "Event", "Of", "Status", "Attempts", ""]
        .map((title) => h("th", { scope: "col" }, title)))),
      log));

  function attempts(delivery) {
    if (!delivery.attemptHistory.length) return h("span", { class: "muted" }, "not tried yet");
    return h("ol", { class: "attempts" }, ...delivery.attemptHistory.map((attempt) =>
      h("li", { "data-attempt": attempt.attempt, "data-status-code": attempt.statusCode ?? "none" },
        when(attempt.startedAt), " · ",
        h("span", { class: "status-code" }, attempt.statusCode !== null ? String(attempt.statusCode)
          : attempt.latencyMs === null && !attempt.error ? "in flight" : "no answer"),
        " · ", h("span", { class: "latency" }, duration(attempt.latencyMs)),
        attempt.error ? [" · ", h("span", { class: "attempt-error" }, attempt.error)] : null)));
  }

  function row(delivery) {
    const redeliver = h("button", { type: "button", "data-action": "redeliver" }, "Redeliver");
    redeliver.addEventListener("click", async () => {
      redeliver.disabled = true;
      try { await api(`/api/webhooks/deliveries/${delivery.id}/redeliver`, { method: "POST" }); await load(); }
      catch (error) { toast(error.message); }
    });
    const of = delivery.runId ? h("a", { href: `#/runs/${delivery.runId}` }, "run")
      : delivery.suiteRunId ? h("span", {}, `suite run ${delivery.suiteRunId.slice(0, 8)}`) : "—";
    return h("tr", { "data-delivery-id": delivery.id, "data-delivery-status": delivery.status,
                     "data-redelivery-of": delivery.redeliveryOf || "" },
      h("td", {}, when(delivery.createdAt)),
      h("td", {}, delivery.event),
      h("td", {}, of),
      h("td", {}, badge(delivery.status), delivery.redeliveryOf ? h("div", { class: "muted" }, "redelivery") : null),
      h("td", {}, attempts(delivery)),
      h("td", {}, redeliver));
  }

  async function load() {
    const page = await api(`/api/webhooks/${id}/deliveries?limit=50`);
    log.replaceChildren(...page.items.map(row));
    if (!page.items.length) log.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No deliveries yet.")));
  }
  await load();
  // Retries land on their own: poll while the page is open.
  const timer = setInterval(() => { load().catch(() => {}); }, 2000);
  cleanup = () => clearInterval(timer);
}
