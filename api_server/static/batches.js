// The batch card of the viewer: follow a batch's progress (GET /api/batches/{id}) by its id,
// typed in or given in the address as #batch=ID. Kept apart from viewer.js on purpose: it only
// reads the API key the viewer stored, and renders with textContent only (ids come from users).
(() => {
  "use strict";
  const KEY_STORAGE = "charmelio.apiKey"; // as viewer.js stores it
  const $ = (id) => document.getElementById(id);
  let timer = null;

  async function fetchJson(path) {
    const headers = new Headers();
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.set("X-API-Key", key);
    const response = await fetch(path, { headers });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
    return body;
  }

  function show(progress) {
    const finished = progress.done + progress.failed + progress.reused + progress.skipped;
    $("batch-bar").max = Math.max(progress.total, 1);
    $("batch-bar").value = finished;
    $("batch-bar").hidden = false;
    $("batch-line").textContent =
      `${progress.status}: ${finished} of ${progress.total} — ${progress.done} extracted, ` +
      `${progress.reused} reused, ${progress.failed} failed, ${progress.in_flight} in flight, ` +
      `${progress.waiting} waiting` + (progress.skipped ? `, ${progress.skipped} not started` : "");
    const list = $("batch-failures");
    list.replaceChildren();
    for (const failure of progress.failures) {
      const item = document.createElement("li");
      item.textContent = `${failure.document_id}: ${failure.error_type}: ${failure.message}`;
      list.append(item);
    }
  }

  async function poll(batchId) {
    clearTimeout(timer);
    try {
      const progress = await fetchJson(`/api/batches/${encodeURIComponent(batchId)}`);
      show(progress);
      if (progress.status === "running") timer = setTimeout(() => poll(batchId), 2000);
    } catch (error) {
      $("batch-line").textContent = `batch ${batchId}: ${error.message}`;
    }
  }

  function fromHash() {
    const match = location.hash.match(/^#batch=([A-Za-z0-9_-]+)$/);
    if (match) {
      $("batch-id").value = match[1];
      poll(match[1]);
    }
  }

  $("batch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const batchId = $("batch-id").value.trim();
    if (batchId) location.hash = `batch=${batchId}`;
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
