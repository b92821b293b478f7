// The stock console: sign in, upload files straight to S3 (presigned POST), watch today's files, read reports.
// Plain JavaScript, no build step, nothing fetched from elsewhere: it talks to this API and, for uploads, to S3.
"use strict";

const TOKEN = "stockConsoleToken";
let profiles = { suppliers: [], kinds: [], uploadLimitMB: 0 };
let filesTimer = null;
let pendingSession = null;
let pendingChallenge = null;
const PAGES = ["overview", "item-page", "upload", "files", "stock", "reports", "account"];
let chart = null;
const pendingMovements = {};  // form -> the movement id of a submission not yet answered (a resend reuses it)

const $ = (id) => document.getElementById(id);

function token() {
  const saved = JSON.parse(sessionStorage.getItem(TOKEN) || "null");
  return saved && saved.expires > Date.now() ? saved.token : null;
}

function say(text, ok) {
  $("message").textContent = text || "";
  $("message").className = ok ? "ok" : "";
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  if (options.body && typeof options.body === "string") headers["Content-Type"] = "application/json";
  const response = await fetch("console/api/" + path, Object.assign({}, options, { headers }));
  if (response.status === 401 && path !== "session") {
    signOut("Your session ended: sign in again.");
    throw new Error("signed out");
  }
  return response;
}

async function problem(response) {
  try {
    const body = await response.json();
    return body.detail || body.message || response.statusText;
  } catch (e) {
    return response.statusText || String(response.status);
  }
}

// ------------------------------------------------------------------ sign-in

async function signIn(event) {
  event.preventDefault();
  say("");
  const body = { username: $("username").value.trim(), password: $("password").value };
  if (pendingSession) body.session = pendingSession;
  if (pendingChallenge) Object.assign(body, { challenge: pendingChallenge, code: $("mfa-code").value.trim() });
  const response = await api("session", { method: "POST", body: JSON.stringify(body) });
  if (!response.ok) {
    say(await problem(response));
    if (pendingChallenge) $("mfa-code").value = "";
    return;
  }
  const answer = await response.json();
  if (answer.challenge === "NEW_PASSWORD_REQUIRED") {
    pendingSession = answer.session;
    $("password").value = "";
    $("password-label").textContent = "New password";
    $("password").autocomplete = "new-password";
    $("new-password-note").hidden = false;
    $("password").focus();
    return;
  }
  if (answer.challenge === "SOFTWARE_TOKEN_MFA" || answer.challenge === "MFA_SETUP") {
    askForCode(answer);
    return;
  }
  resetSignIn();
  sessionStorage.setItem(TOKEN, JSON.stringify({ token: answer.accessToken, expires: Date.now() + answer.expiresIn * 1000 - 60000 }));
  await start();
}

// The password is done: Cognito wants the authenticator app's code (after showing its key, the first time).
function askForCode(answer) {
  pendingSession = answer.session;
  pendingChallenge = answer.challenge;
  for (const id of ["password", "password-label", "new-password-note"]) $(id).hidden = true;
  $("password").required = false;
  $("mfa-setup").hidden = answer.challenge !== "MFA_SETUP";
  if (answer.secret) showKey("mfa", answer);
  $("mfa-field").hidden = false;
  $("mfa-code").required = true;
  $("mfa-code").value = "";
  $("mfa-code").focus();
}

function showKey(prefix, answer) {
  $(prefix + "-secret").textContent = answer.secret;
  $(prefix + "-link").href = answer.otpauth;
}

function resetSignIn() {
  pendingSession = null;
  pendingChallenge = null;
  $("password").value = "";
  $("password").hidden = false;
  $("password").required = true;
  $("password-label").hidden = false;
  $("password-label").textContent = "Password";
  $("password").autocomplete = "current-password";
  $("new-password-note").hidden = true;
  for (const id of ["mfa-setup", "mfa-field"]) $(id).hidden = true;
  $("mfa-code").required = false;
}

function signOut(text) {
  sessionStorage.removeItem(TOKEN);
  clearInterval(filesTimer);
  resetSignIn();
  $("nav").hidden = true;
  for (const id of PAGES) $(id).hidden = true;
  $("signin").hidden = false;
  say(text || "");
  $("username").focus();
}

// ------------------------------------------------------------------ pages

async function start() {
  $("signin").hidden = true;
  $("nav").hidden = false;
  const response = await api("profiles");
  if (!response.ok) return say(await problem(response));
  profiles = await response.json();
  fill($("kind"), profiles.kinds.map((k) => [k.name, k.label]));
  fill($("supplier"), profiles.suppliers.map((s) => [s, s]));
  fill($("report-supplier"), profiles.suppliers.map((s) => [s, s]));
  $("limit").textContent = "Up to " + profiles.uploadLimitMB + " MB a file.";
  $("account-link").hidden = profiles.mfa !== "OPTIONAL";
  kindChanged();
  await loadWarehouses();
  show(location.hash.slice(1) || "overview");
}

function fill(select, options) {
  select.replaceChildren(...options.map(([value, label]) => new Option(label, value)));
}

function show(page) {
  let item = null;
  if (page.startsWith("item/")) { item = decodeURIComponent(page.slice(5)); page = "item-page"; }
  if (!PAGES.includes(page) || (page === "account" && $("account-link").hidden)) page = "overview";
  for (const id of PAGES) $(id).hidden = id !== page;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearInterval(filesTimer);
  if (page === "overview") loadOverview();
  if (page === "item-page" && item) { $("item-page-id").value = item; loadItem(item); }
  if (page === "files") {
    refreshFiles();
    filesTimer = setInterval(refreshFiles, 5000);
  }
}

// ------------------------------------------------------------------ upload

function kindChanged() {
  const kind = profiles.kinds.find((k) => k.name === $("kind").value);
  $("supplier-field").hidden = !(kind && kind.needsSupplier);
  $("file").accept = kind ? kind.extensions.join(",") : "";
}

async function uploadFiles(chosen) {
  const history = $("history").checked;
  // history goes up in time order: names like 202610010800_inventory.csv sort by their time
  const files = history ? [...chosen].sort((a, b) => a.name.localeCompare(b.name)) : chosen;
  const keys = [];
  for (const file of files) {
    const item = document.createElement("li");
    item.textContent = file.name + ": asking for an upload link…";
    $("upload-results").prepend(item);
    try {
      const kind = $("kind").value;
      const request = { kind, filename: file.name, size: file.size };
      if (!$("supplier-field").hidden) request.supplier = $("supplier").value;
      const signed = await api("uploads", { method: "POST", body: JSON.stringify(request) });
      if (!signed.ok) throw new Error(await problem(signed));
      const target = await signed.json();
      const form = new FormData();
      for (const [name, value] of Object.entries(target.fields)) form.append(name, value);
      form.append("file", file);
      item.textContent = file.name + ": uploading…";
      const sent = await fetch(target.url, { method: "POST", body: form });
      if (!sent.ok) throw new Error("S3 refused the upload (" + sent.status + ")");
      item.textContent = file.name + ": uploaded as " + target.key + " (see Files for its processing)";
      item.className = "ok";
      keys.push(target.key);
    } catch (error) {
      item.textContent = file.name + ": not uploaded: " + error.message;
      item.className = "bad";
    }
  }
  if (history && keys.length) await importSummary(keys);
}

async function importSummary(keys) {
  // asks until every file is processed (202 meanwhile); the console e-mails the summary once
  const item = document.createElement("li");
  $("upload-results").prepend(item);
  for (let attempt = 0; attempt < 360; attempt++) {
    const response = await api("imports", { method: "POST", body: JSON.stringify({ keys }) });
    if (response.status === 202) {
      const waiting = await response.json();
      item.textContent = "History: " + waiting.waiting + " of " + waiting.files + " file(s) still being processed…";
      await new Promise((resolve) => setTimeout(resolve, 5000));
      continue;
    }
    if (!response.ok) {
      item.textContent = "History: no summary: " + (await problem(response));
      item.className = "bad";
      return;
    }
    const summary = await response.json();
    const statuses = Object.entries(summary.statuses).map(([s, n]) => n + " " + s).join(", ");
    item.textContent = "History: " + summary.files + " file(s) processed (" + statuses + "), " +
      summary.rejected_rows + " row(s) rejected, " + summary.below_count + " level(s) below threshold now. " +
      (summary.emailed ? "The summary was e-mailed." : "Its summary had been e-mailed already.");
    item.className = summary.failed.length ? "bad" : "ok";
    return;
  }
  item.textContent = "History: still being processed after 30 minutes; see Files.";
}

// ------------------------------------------------------------------ files

async function refreshFiles() {
  const response = await api("files");
  if (!response.ok) return say(await problem(response));
  const answer = await response.json();
  $("files-day").textContent = "Day: " + answer.day + ", " + answer.files.length + " file(s).";
  $("files-body").replaceChildren(...answer.files.map(fileRow));
}

function fileRow(file) {
  const row = document.createElement("tr");
  row.dataset.key = file.key;
  const status = cell(file.status);
  status.className = "status-" + file.status;
  const rejected = cell(file.rejected ? String(file.rejected) + " " : "");
  if (file.rejected_key) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = "Download";
    button.setAttribute("aria-label", "Download the rejected rows of " + file.name);
    button.addEventListener("click", () => downloadRejected(file.rejected_key));
    rejected.append(button);
  }
  row.append(cell(file.name, file.key), cell(file.kind), timeCell(file.uploaded_at),
    cell(file.uploaded_by || ""), status, cell(file.summary || "waiting to be processed"), rejected);
  label(row, ["File", "Kind", "Uploaded", "By", "Status", "Details", "Rejected rows"]);
  return row;
}

// ------------------------------------------------------------------ how values read to a person

const MINUTES = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function parseTime(iso) {
  // the API's times are ISO 8601 in UTC, some with microseconds: milliseconds are all a Date keeps
  const date = new Date(String(iso).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isNaN(date.getTime()) ? null : date;
}

function timeCell(iso) {
  // in the reader's time zone, to the minute; the exact time (UTC, as stored) on hover
  const date = iso === null ? null : parseTime(iso);
  if (date === null) return cell(iso === null ? "" : String(iso));
  const td = cell(MINUTES.format(date), String(iso));
  td.className = "time";
  return td;
}

function coverCell(days, row) {
  // an empty cell says nothing: no rate computed yet (the nightly forecast) or none sold in its window
  if (days !== null) return cell(String(days));
  const td = cell(row.daily_sales === null || row.daily_sales === undefined ? "not computed yet" : "no sales yet");
  td.className = "muted";
  return td;
}

function label(row, names) {
  // on a phone each row is a card: every cell says which column it is
  [...row.children].forEach((td, i) => td.setAttribute("data-label", names[i]));
}

function cell(text, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (title) td.title = title;
  return td;
}

async function downloadRejected(key) {
  const response = await api("rejected?key=" + encodeURIComponent(key));
  if (!response.ok) return say(await problem(response));
  const link = document.createElement("a");
  link.href = (await response.json()).url;
  link.download = key.split("/").pop();
  document.body.append(link);
  link.click();
  link.remove();
}

// ------------------------------------------------------------------ reports

async function loadWarehouses() {
  const response = await api("reports/warehouses?limit=1000");
  if (!response.ok) return;
  const answer = await response.json();
  fill($("warehouse"), answer.items.map((w) => [w.warehouse, w.warehouse]));
}

async function allRows(path) {
  let rows = [];
  let next = null;
  let summary = {};
  do {
    const separator = path.includes("?") ? "&" : "?";
    const response = await api(path + (next ? separator + "next=" + encodeURIComponent(next) : ""));
    if (!response.ok) throw new Error(await problem(response));
    const page = await response.json();
    summary = page;
    rows = rows.concat(page.items || []);
    next = page.next;
  } while (next);
  return { rows, summary };
}

async function allCsv(path, fileName) {
  let text = "";
  let next = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const response = await api(path + separator + "format=csv" + (next ? "&next=" + encodeURIComponent(next) : ""));
    if (!response.ok) return say(await problem(response));
    const page = await response.text();
    text += text ? page.split("\n").slice(1).join("\n") : page;
    next = response.headers.get("X-Next-Token");
  } while (next);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
}

function warehousePath() {
  const min = $("min-quantity").value;
  return "reports/warehouses/" + encodeURIComponent($("warehouse").value) + "/items" + (min !== "" ? "?min_quantity=" + min : "");
}

function table(title, columns, rows) {
  $("report-title").textContent = title + " (" + rows.length + ")";
  fillTable($("report-table"), columns, rows);
}

function fillTable(target, columns, rows) {
  const head = document.createElement("tr");
  for (const [, label] of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = label;
    head.append(th);
  }
  const body = rows.map((row) => {
    const tr = document.createElement("tr");
    for (const [name, , format] of columns) {
      const value = row[name] === null || row[name] === undefined ? null : row[name];
      tr.append(format ? format(value, row) : cell(value === null ? "" : String(value)));
    }
    label(tr, columns.map(([, title]) => title));
    return tr;
  });
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  tbody.append(...body);
  target.replaceChildren(thead, tbody);
}

// ------------------------------------------------------------------ overview and item pages

function itemLink(row) {
  // the item id becomes a link to its page (a cell built from text, never from HTML)
  const link = document.createElement("a");
  link.href = "#item/" + encodeURIComponent(row.item_id);
  link.textContent = row.item_id;
  return link;
}

async function loadOverview() {
  const response = await api("overview");
  if (!response.ok) return say(await problem(response));
  const view = await response.json();
  const c = view.counts;
  const counts = [["Below threshold", c.below_threshold], ["Running out within 7 days", c.running_out],
    ["Alerts in 24 hours", c.alerts_24h], ["Files today", c.files_today], ["Files failed", c.files_failed]];
  $("overview-counts").replaceChildren(...counts.flatMap(([name, value]) => {
    const dt = document.createElement("dt"); dt.textContent = name;
    const dd = document.createElement("dd"); dd.textContent = String(value);
    return [dt, dd];
  }));
  const below = [["warehouse", "Warehouse"], ["item_id", "Item"], ["item_name", "Name"], ["quantity", "Level"],
    ["threshold", "Restock below"], ["days_of_cover", "Days of cover", coverCell], ["changed_by", "Last changed by"]];
  fillTable($("overview-below"), below, view.below);
  for (const [n, row] of view.below.entries()) $("overview-below").tBodies[0].rows[n].cells[1].replaceChildren(itemLink(row));
  fillTable($("overview-alerts"), [["alerted_at", "Crossed at", timeCell], ["warehouse", "Warehouse"], ["item_id", "Item"], ["quantity", "Level"]], view.alerts);
  fillTable($("overview-files"), [["name", "File"], ["status", "Status"], ["uploaded_by", "By"], ["summary", "Details"]], view.files);
  // the page lists the first few of each; the counts above are of all of them
  const shown = [["overview-below-shown", view.below.length, c.below_threshold,
    "the rest, warehouse by warehouse: Reports, \u201cItems below their restock threshold\u201d"],
  ["overview-alerts-shown", view.alerts.length, c.alerts_24h, "the newest first"],
  ["overview-files-shown", view.files.length, c.files_today, "all of them: Files"]];
  for (const [id, listed, total, where] of shown) {
    $(id).hidden = listed >= total;
    $(id).textContent = "Showing " + listed.toLocaleString() + " of " + total.toLocaleString() + "; " + where + ".";
  }
  showReconciliation(view.reconciliation);
}

function showReconciliation(run) {
  // the last run of the weekly comparison of every level with all its sources, its largest differences repairable
  if (!run) return;
  $("overview-reconciliation").textContent = "Run " + run.run + " (" + (parseTime(run.at) ? MINUTES.format(parseTime(run.at)) : run.at) +
    "): " + run.differences.toLocaleString() + " level(s) differ from what their sources add up to" +
    (run.differences > run.worst.length ? "; the " + run.worst.length + " largest are listed (all of them: stockctl repair --run " + run.run + ")." : ".");
  fillTable($("overview-differences"), [["warehouse", "Warehouse"], ["item_id", "Item"], ["stored", "Stored"],
    ["expected", "Its sources add up to"], ["repair", "Repair"]], run.worst.map((d) => Object.assign({}, d, { stored: d.stored === null ? "no level" : d.stored, repair: "" })));
  for (const [n, d] of run.worst.entries()) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = "Repair";
    button.setAttribute("aria-label", "Set " + d.item_id + " in " + d.warehouse + " to " + d.expected);
    button.addEventListener("click", () => repairLevel(run.run, d, button));
    $("overview-differences").tBodies[0].rows[n].cells[4].replaceChildren(button);
  }
}

async function repairLevel(run, d, button) {
  const reason = window.prompt("Why is " + d.item_id + " in " + d.warehouse + " set to " + d.expected + "? (kept in its history)");
  if (!reason || !reason.trim()) return;
  const response = await api("repairs", { method: "POST",
    body: JSON.stringify({ run, warehouse: d.warehouse, item_id: d.item_id, reason }) });
  const cell = button.parentElement;
  if (response.ok) {
    cell.textContent = "repaired: " + d.expected;
    return;
  }
  cell.textContent = "not repaired: " + (await problem(response));
}

async function loadItem(itemId) {
  say("");
  const response = await api("items/" + encodeURIComponent(itemId));
  if (!response.ok) return say(await problem(response));
  const view = await response.json();
  $("item-title").textContent = "Item " + view.item_id;
  const listed = view.levels.length < view.warehouses
    ? " The " + view.levels.length + " lowest are listed, and the changes of the " + Object.keys(view.history).length + " lowest charted."
    : "";
  $("item-summary").textContent = "Restock below " + view.restock_if_below + (view.threshold_is_default ? " (the default)" : "") +
    "; total " + view.total_quantity.toLocaleString() + " in " + view.warehouses.toLocaleString() + " warehouse(s)." + listed;
  fillTable($("item-levels"), [["warehouse", "Warehouse"], ["quantity", "Level"], ["daily_sales", "Sold a day"],
    ["days_of_cover", "Days of cover", coverCell], ["changed_by", "Last changed by"], ["updated_at", "Updated", timeCell]],
    view.levels);
  const changes = Object.entries(view.history).flatMap(([warehouse, list]) => list.map((c) => Object.assign({ warehouse }, c)))
    .sort((a, b) => (a.at < b.at ? 1 : -1));
  fillTable($("item-changes"), [["at", "When", timeCell], ["warehouse", "Warehouse"], ["old", "Was"], ["new", "Now"],
    ["delta", "Change"], ["cause", "Cause"], ["by", "By"]], changes);
  drawChart(view);
}

function drawChart(view) {
  // one stepped line per warehouse: each change's new level at its time, and the level now at the right edge
  // (the stream dates changes to the second: changes of one second get a millisecond each, in stream order)
  const warehouses = Object.keys(view.history);
  const points = {};
  let latest = 0;
  for (const w of warehouses) {
    let previous = -Infinity;
    points[w] = view.history[w].map((c) => {
      const x = Math.max(Date.parse(c.at) / 1000, previous + 0.001);
      previous = x;
      latest = Math.max(latest, x);
      return [x, c.new];
    });
  }
  const times = new Set([Math.max(Date.now() / 1000, latest + 0.001)]);
  for (const w of warehouses) for (const [x] of points[w]) times.add(x);
  const xs = [...times].sort((a, b) => a - b);
  const now = Object.fromEntries(view.levels.map((l) => [l.warehouse, l.quantity]));
  const series = warehouses.map((w) => {
    const byTime = new Map(points[w]);
    let last = null;
    return xs.map((x, n) => {
      if (byTime.has(x)) last = byTime.get(x);
      if (n === xs.length - 1) last = now[w] ?? last;
      return last;
    });
  });
  const palette = ["#0b5394", "#b45f06", "#38761d", "#741b47", "#134f5c", "#990000"];
  const options = {
    width: Math.min(900, $("item-chart").clientWidth || 900), height: 260,
    series: [{}].concat(warehouses.map((w, n) => ({ label: w, stroke: palette[n % palette.length], width: 2,
      paths: uPlot.paths.stepped({ align: 1 }) }))),
    axes: [{}, { label: "units" }],
  };
  if (chart) chart.destroy();
  chart = new uPlot(options, [xs, ...series], $("item-chart"));
  $("item-chart").dataset.points = String(xs.length);
}

const LEVEL_COLUMNS = [["item_id", "Item"], ["item_name", "Name"], ["quantity", "Quantity"], ["below_threshold", "Below threshold"], ["updated_at", "Updated"]];

async function report(kind) {
  say("");
  try {
    if (kind === "warehouse") {
      const { rows } = await allRows(warehousePath());
      const min = $("min-quantity").value;
      table("Items in " + $("warehouse").value + (min !== "" ? " above " + min : ""), LEVEL_COLUMNS, rows);
    } else if (kind === "below") {
      const { rows } = await allRows("reports/warehouses/" + encodeURIComponent($("warehouse").value) + "/items");
      table("Items below their restock threshold in " + $("warehouse").value, LEVEL_COLUMNS, rows.filter((r) => r.below_threshold));
    } else if (kind === "item") {
      const { rows, summary } = await allRows("reports/items/" + encodeURIComponent($("item").value.trim()) + "/total");
      table("Item " + summary.item_id + ": " + summary.total + " in " + summary.warehouses + " warehouse(s)",
        [["warehouse", "Warehouse"], ["quantity", "Quantity"], ["below_threshold", "Below threshold"]], rows);
    } else if (kind === "supplier") {
      const { rows } = await allRows("reports/suppliers/" + encodeURIComponent($("report-supplier").value) + "/stock");
      table("Stock of supplier " + $("report-supplier").value,
        [["custom_label", "SKU"], ["quantity", "Quantity"], ["quantity_delta", "Change"], ["updated_at", "Feed time"]], rows);
    }
  } catch (error) {
    if (error.message !== "signed out") say(error.message);
  }
}

// ------------------------------------------------------------------ two-factor sign-in (ConsoleMfa OPTIONAL)

async function startTotp() {
  say("");
  const response = await api("mfa", { method: "POST", body: JSON.stringify({ action: "start" }) });
  if (!response.ok) return say(await problem(response));
  showKey("totp", await response.json());
  $("totp-form").hidden = false;
  $("totp-code").focus();
}

async function confirmTotp(event) {
  event.preventDefault();
  const code = $("totp-code").value.trim();
  const response = await api("mfa", { method: "POST", body: JSON.stringify({ action: "verify", code }) });
  $("totp-code").value = "";
  if (!response.ok) return say(await problem(response));
  $("totp-form").hidden = true;
  say("Two-factor sign-in is on: from your next sign-in the console asks for the app's code.", true);
}

// ------------------------------------------------------------------ count and move

function countRow() {
  const row = document.createElement("tr");
  for (const [name, type] of [["warehouse", "text"], ["item_id", "text"], ["counted", "number"]]) {
    const input = document.createElement("input");
    input.name = name;
    input.type = type;
    input.required = true;
    if (type === "number") { input.min = "0"; input.step = "1"; }
    const label = document.createElement("label");  // a real label (screen readers, clicking it)
    const text = document.createElement("span");
    text.className = "visually-hidden";
    text.textContent = { warehouse: "Warehouse", item_id: "Item id", counted: "Counted" }[name];
    label.append(text, input);
    const td = document.createElement("td");
    td.append(label);
    row.append(td);
  }
  $("count-rows").append(row);
}

function movementId(form) {
  // one id per submission: sent again after a timeout, the same id is applied once
  if (!pendingMovements[form]) pendingMovements[form] = crypto.randomUUID().replaceAll("-", "");
  return pendingMovements[form];
}

async function move(form, path, body) {
  const response = await api(path, { method: "POST", body: JSON.stringify(Object.assign({ movement_id: movementId(form) }, body)) });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 409 && answer.retry) { say(answer.detail); return null; }  // same id when sent again
  if (response.status === 409) {
    say(answer.detail);
    $("transfer-confirm").hidden = false;
    return null;
  }
  if (!response.ok) { say(answer.detail || response.statusText); delete pendingMovements[form]; return null; }
  delete pendingMovements[form];
  const levels = Object.entries(answer.levels).map(([where, level]) => where + ": " + level).join(", ");
  const item = document.createElement("li");
  item.textContent = path.replace(/s$/, "") + " " + answer.status.toLowerCase().replace("_", " ") + " - " + levels;
  $("stock-results").prepend(item);
  say("Recorded: " + levels, true);
  return answer;
}

async function recordCount(event) {
  event.preventDefault();
  const counts = [...$("count-rows").rows].map((row) => {
    const [warehouse, item, counted] = row.querySelectorAll("input");
    return { warehouse: warehouse.value.trim(), item_id: item.value.trim(), counted: Number(counted.value) };
  }).filter((c) => c.warehouse && c.item_id);
  const at = $("count-at").value;  // the browser's local time: sent with its offset, as an ISO moment
  const body = at ? { counts, counted_at: new Date(at).toISOString() } : { counts };
  if (await move("count", "stocktakes", body)) {
    $("count-rows").replaceChildren();
    $("count-at").value = "";
    countRow();
  }
}

async function adjust(event) {
  event.preventDefault();
  const answer = await move("adjust", "adjustments", {
    warehouse: $("adjust-warehouse").value.trim(), item_id: $("adjust-item").value.trim(),
    change: Number($("adjust-change").value), reason: $("adjust-reason").value,
  });
  if (answer) $("adjust-form").reset();
}

async function transfer(event, confirm) {
  if (event) event.preventDefault();
  const answer = await move("transfer", "transfers", {
    from: $("transfer-from").value.trim(), to: $("transfer-to").value.trim(),
    item_id: $("transfer-item").value.trim(), quantity: Number($("transfer-quantity").value), confirm: !!confirm,
  });
  if (answer) { $("transfer-form").reset(); $("transfer-confirm").hidden = true; }
}

// ------------------------------------------------------------------ wiring

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("totp-start").addEventListener("click", startTotp);
  $("totp-form").addEventListener("submit", confirmTotp);
  $("sign-out").addEventListener("click", () => signOut("Signed out."));
  $("kind").addEventListener("change", kindChanged);
  $("file").addEventListener("change", (e) => { uploadFiles([...e.target.files]); e.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); uploadFiles([...e.dataTransfer.files]); });
  $("warehouse-form").addEventListener("submit", (e) => { e.preventDefault(); report("warehouse"); });
  $("below-threshold").addEventListener("click", () => report("below"));
  $("warehouse-csv").addEventListener("click", () => allCsv(warehousePath(), "warehouse-" + $("warehouse").value + ".csv"));
  $("item-form").addEventListener("submit", (e) => { e.preventDefault(); report("item"); });
  $("supplier-form").addEventListener("submit", (e) => { e.preventDefault(); report("supplier"); });
  $("count-add").addEventListener("click", countRow);
  $("count-form").addEventListener("submit", recordCount);
  $("adjust-form").addEventListener("submit", adjust);
  $("transfer-form").addEventListener("submit", (e) => transfer(e, false));
  $("transfer-confirm").addEventListener("click", () => transfer(null, true));
  countRow();
  $("item-page-form").addEventListener("submit", (e) => { e.preventDefault(); location.hash = "item/" + encodeURIComponent($("item-page-id").value.trim()); });
  $("supplier-csv").addEventListener("click", () => allCsv("reports/suppliers/" + encodeURIComponent($("report-supplier").value) + "/stock", "supplier-" + $("report-supplier").value + ".csv"));
  window.addEventListener("hashchange", () => token() && show(location.hash.slice(1)));
  if (token()) start(); else signOut();
});
