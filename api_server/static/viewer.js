// The Charmelio viewer: upload a contract, follow its extraction, read its clauses.
// Plain JavaScript against the same-origin API. Contract text is untrusted: it is only ever put
// into the page as text (textContent), never as HTML.
"use strict";

(() => {
  const STAGES = [
    ["uploaded", "Uploaded"],
    ["parsing", "Parsing"],
    ["extracting", "Extracting"],
    ["storing", "Storing"],
    ["completed", "Completed"],
  ];
  const STAGE_TEXT = {
    starting: "Waiting for a worker to pick it up…",
    parsing: "Reading the PDF's pages…",
    extracting: "Finding clauses and their quotes…",
    storing: "Storing the result…",
    recording_failure: "Recording the failure…",
  };
  const TOPICS = [
    ["termination", "Termination"],
    ["confidentiality", "Confidentiality"],
    ["indemnification", "Indemnification"],
    ["limitation_of_liability", "Limitation of liability"],
    ["dispute_resolution", "Dispute resolution"],
    ["payment_terms", "Payment terms"],
    ["intellectual_property", "Intellectual property"],
  ];
  const POLL_MS = 1000;
  const KEY_STORAGE = "charmelio.apiKey";

  const $ = (id) => document.getElementById(id);
  let followToken = 0;
  let historyCursor = null;

  // --- small DOM helper: el("p", {class: "x"}, "text", child) --------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // --- the API, with the optional key ------------------------------------------------------
  class ApiError extends Error {
    constructor(problem, status) {
      super(problem.detail || `HTTP ${status}`);
      this.code = problem.code || "http_error";
      this.status = status;
    }
  }

  function askForKey() {
    const dialog = $("key-dialog");
    $("key-input").value = "";
    return new Promise((resolve) => {
      dialog.addEventListener(
        "close",
        () => {
          const key = dialog.returnValue === "ok" ? $("key-input").value.trim() : "";
          if (key) sessionStorage.setItem(KEY_STORAGE, key);
          resolve(Boolean(key));
        },
        { once: true },
      );
      dialog.showModal();
    });
  }

  async function api(path, options = {}, retried = false) {
    const headers = new Headers(options.headers || {});
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.set("X-API-Key", key);
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401 && !retried) {
      $("key-button").hidden = false;
      sessionStorage.removeItem(KEY_STORAGE);
      if (await askForKey()) return api(path, options, true);
    }
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : {};
    if (!response.ok) throw new ApiError(body, response.status);
    return body;
  }

  // The same request, answered as a Blob (page images, exports) instead of JSON.
  async function apiBlob(path, retried = false) {
    const headers = new Headers();
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.set("X-API-Key", key);
    const response = await fetch(path, { headers });
    if (response.status === 401 && !retried) {
      $("key-button").hidden = false;
      sessionStorage.removeItem(KEY_STORAGE);
      if (await askForKey()) return apiBlob(path, true);
    }
    if (!response.ok) {
      const type = response.headers.get("content-type") || "";
      throw new ApiError(type.includes("json") ? await response.json() : {}, response.status);
    }
    return { blob: await response.blob(), disposition: response.headers.get("content-disposition") || "" };
  }

  // portfolio.js (the portfolio and evidence views) uses these.
  window.charmelio = { api, apiBlob, el, breakable, formatDay, pageChip };

  // --- formatting ----------------------------------------------------------------------------
  function formatDate(value) {
    if (!value) return "";
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
  }

  function formatDay(value) {
    if (!value) return null;
    const date = new Date(`${value}T00:00:00`);
    return Number.isNaN(date.getTime())
      ? value
      : date.toLocaleDateString(undefined, { year: "numeric", month: "long", day: "numeric" });
  }

  function percent(value) {
    return `${Math.round(Number(value) * 100)}%`;
  }

  function pageChip(page) {
    return el("span", { class: "page-chip", title: `Page ${page} of the PDF` }, `p. ${page}`);
  }

  function badge(node, status) {
    node.className = `badge badge-${status}`;
    node.textContent = status;
  }

  // File names like SUPPLY_AGREEMENT_2019.pdf: allow line breaks after _ - . only.
  function breakable(text) {
    const fragment = document.createDocumentFragment();
    for (const part of String(text).split(/(?<=[_.-])/)) {
      fragment.append(document.createTextNode(part), document.createElement("wbr"));
    }
    return fragment;
  }

  function slug(text) {
    return `cat-${text.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  }

  // --- upload --------------------------------------------------------------------------------
  function setUploadMessage(text, isError = false) {
    const node = $("upload-message");
    node.textContent = text;
    node.classList.toggle("error", isError);
  }

  function chosenFile(file) {
    $("dropzone-text").textContent = file ? file.name : "Choose a PDF, or drop it here";
    $("upload-button").disabled = !file;
    setUploadMessage("");
  }

  async function upload(event) {
    event.preventDefault();
    const file = $("file-input").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file, file.name);
    $("upload-button").disabled = true;
    setUploadMessage(`Uploading ${file.name}…`);
    try {
      const uploaded = await api("/api/documents", { method: "POST", body: form });
      const current = uploaded.document.current_extraction;
      if (!uploaded.created && current && current.status === "completed") {
        setUploadMessage("Already uploaded: showing its extraction.");
        location.hash = `#/extractions/${current.extraction_id}`;
      } else {
        const started = await api("/api/extractions", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ document_id: uploaded.document.document_id }),
        });
        setUploadMessage(uploaded.created ? "Uploaded. Extracting…" : "Already uploaded. Extracting…");
        location.hash = `#/extractions/${started.job_id || started.extraction_id}`;
      }
      $("upload-form").reset();
      chosenFile(null);
    } catch (error) {
      setUploadMessage(`Refused: ${error.message} (${error.code})`, true);
      $("upload-button").disabled = false;
    }
  }

  // --- following one extraction ------------------------------------------------------------
  function renderStages(extraction) {
    const list = $("stages");
    list.replaceChildren();
    const failedAt = extraction.status === "failed" ? (extraction.error || {}).stage : null;
    let reached = 0;
    if (extraction.status === "completed" || extraction.status === "superseded") {
      reached = STAGES.length;
    } else {
      const current = failedAt || extraction.stage;
      const index = STAGES.findIndex(([name]) => name === current);
      reached = index >= 0 ? index : 1;
    }
    STAGES.forEach(([name, label], index) => {
      let state = index < reached ? "done" : index === reached ? "current" : "todo";
      if (extraction.status === "failed" && index === reached) state = "failed";
      if (extraction.status === "pending" && index === reached) state = "waiting";
      list.append(el("li", { class: `stage stage-${state}`, dataset: { stage: name } }, label));
    });
    let text = "";
    if (extraction.status === "pending" || extraction.status === "running") {
      text = STAGE_TEXT[extraction.stage] || "Waiting for the workflow worker to answer…";
    }
    setStageText(text);
  }

  function setStageText(text) {
    $("stage-text").textContent = text;
    $("stage-text").hidden = !text;
  }

  function renderFacts(extraction, document_) {
    const result = extraction.result || {};
    const facts = $("facts");
    facts.replaceChildren();
    const parties = (result.parties || []).map((party) =>
      el("li", {}, party.name, party.role ? el("span", { class: "muted" }, ` — ${party.role}`) : null),
    );
    const rows = [
      ["Parties", parties.length ? el("ul", { class: "parties" }, parties) : null],
      ["Agreement date", formatDay(result.agreement_date)],
      ["Effective date", formatDay(result.effective_date)],
      ["Ends", result.termination_date ? formatDay(result.termination_date) : result.perpetual ? "perpetual (until terminated)" : null],
      ["Term", result.term_length],
      ["Renewal", result.renewal_term],
      ["Notice to stop renewal", result.renewal_notice_period],
      ["Governing law", result.governing_law],
      ["Pages", document_ && document_.page_count],
      ["Extracted by", extraction.provider && `${extraction.provider} · ${extraction.model}`],
      ["Finished", formatDate(extraction.finished_at)],
    ];
    for (const [label, value] of rows) {
      facts.append(
        el("div", { class: "fact" }, el("dt", {}, label), el("dd", {}, value || el("span", { class: "muted" }, "not found"))),
      );
    }
    $("summary").textContent = result.summary || "";
    $("summary").hidden = !result.summary;
  }

  function renderTopics(result) {
    const box = $("topics");
    box.replaceChildren();
    for (const [field, label] of TOPICS) {
      const topic = result[field];
      if (!topic) continue;
      box.append(
        el(
          "div",
          { class: "topic" },
          el("div", { class: "topic-head" }, el("h3", {}, label), pageChip(topic.page)),
          topic.summary ? el("p", { class: "topic-summary" }, topic.summary) : null,
          el("blockquote", { class: "quote" }, topic.quote),
        ),
      );
    }
    $("topics-card").hidden = box.childElementCount === 0;
  }

  function renderClauses(extraction) {
    const groups = new Map();
    for (const clause of extraction.clauses) {
      if (!groups.has(clause.category)) groups.set(clause.category, []);
      groups.get(clause.category).push(clause);
    }
    $("clause-count").textContent =
      `${extraction.clauses.length} clause${extraction.clauses.length === 1 ? "" : "s"} in ${groups.size} categor${groups.size === 1 ? "y" : "ies"}`;
    const nav = $("category-nav");
    const container = $("categories");
    container.dataset.extraction = extraction.extraction_id;
    nav.replaceChildren();
    container.replaceChildren();
    if (groups.size === 0) {
      container.append(el("p", { class: "muted" }, "No clauses were found in this document."));
      return;
    }
    for (const [category, clauses] of groups) {
      const anchor = slug(category);
      nav.append(el("a", { href: `#${anchor}`, class: "chip", dataset: { target: anchor } }, category, el("span", { class: "chip-count" }, clauses.length)));
      container.append(
        el(
          "section",
          { class: "category", id: anchor, dataset: { category } },
          el("h3", {}, category, el("span", { class: "muted count" }, ` ${clauses.length}`)),
          el(
            "ol",
            { class: "clauses" },
            clauses.map((clause) =>
              el(
                "li",
                { class: "clause", dataset: { page: clause.page } },
                el("blockquote", { class: "quote clause-quote" }, clause.quote),
                el(
                  "div",
                  { class: "clause-meta" },
                  el("span", { class: "clause-page" }, `Page ${clause.page}`),
                  el("span", { class: "muted" }, `confidence ${percent(clause.confidence)}`),
                  el("button", { class: "evidence-button", type: "button", dataset: { ordinal: clause.ordinal } }, "Show on page"),
                ),
              ),
            ),
          ),
        ),
      );
    }
  }

  function renderExtraction(extraction, document_) {
    $("empty-state").hidden = true;
    $("extraction").hidden = false;
    const name = (document_ && document_.filename) || extraction.document_id;
    $("doc-title").replaceChildren(breakable(name));
    const ids = [extraction.document_id, extraction.extraction_id && `extraction ${extraction.extraction_id}`];
    $("doc-meta").textContent = ids.filter(Boolean).join(" · ");
    badge($("status-badge"), extraction.status);
    renderStages(extraction);
    const finished = ["completed", "failed", "superseded"].includes(extraction.status);
    $("reextract-button").hidden = !finished;
    $("reextract-button").dataset.document = extraction.document_id;

    const failure = $("failure");
    failure.hidden = extraction.status !== "failed";
    if (extraction.status === "failed" && extraction.error) {
      const error = extraction.error;
      $("failure-text").textContent =
        `${error.stage ? `While ${error.stage}: ` : ""}${error.message} (${error.error_type})`;
    }
    const result = $("result");
    result.hidden = extraction.status !== "completed";
    if (extraction.status === "superseded") {
      setStageText("A newer extraction of this document replaced this one; its clauses were removed.");
    }
    if (extraction.status === "completed") {
      renderFacts(extraction, document_);
      renderTopics(extraction.result || {});
      renderClauses(extraction);
    }
  }

  async function follow(ref) {
    const token = ++followToken;
    let document_ = null;
    for (;;) {
      let extraction;
      try {
        extraction = await api(`/api/extractions/${encodeURIComponent(ref)}`);
      } catch (error) {
        if (token !== followToken) return;
        showMessage(`Cannot show ${ref}: ${error.message}`);
        return;
      }
      if (token !== followToken) return;
      if (!document_ || document_.page_count === null) {
        try {
          document_ = await api(`/api/documents/${encodeURIComponent(extraction.document_id)}`);
        } catch (error) {
          document_ = null;
        }
      }
      if (token !== followToken) return;
      renderExtraction(extraction, document_);
      if (extraction.status !== "pending" && extraction.status !== "running") {
        if (extraction.extraction_id && ref !== extraction.extraction_id) {
          // A job id names the run only while Temporal keeps its history: switch to the stored id.
          history.replaceState(null, "", `#/extractions/${extraction.extraction_id}`);
        }
        loadHistory(true);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (token !== followToken) return;
    }
  }

  function showMessage(text) {
    $("extraction").hidden = true;
    $("empty-state").hidden = false;
    $("empty-state").replaceChildren(el("h1", {}, "Nothing to show"), el("p", {}, text));
  }

  async function reextract() {
    const documentId = $("reextract-button").dataset.document;
    try {
      const started = await api("/api/extractions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ document_id: documentId }),
      });
      location.hash = `#/extractions/${started.job_id || started.extraction_id}`;
    } catch (error) {
      setStageText(`Could not start: ${error.message}`);
    }
  }

  // --- past extractions ----------------------------------------------------------------------
  async function loadHistory(fresh) {
    const list = $("history");
    const params = new URLSearchParams({ limit: "15" });
    const status = $("status-filter").value;
    if (status) params.set("status", status);
    if (!fresh && historyCursor) params.set("cursor", historyCursor);
    let page;
    try {
      page = await api(`/api/extractions?${params}`);
    } catch (error) {
      $("history-empty").hidden = false;
      $("history-empty").textContent = `Cannot list extractions: ${error.message}`;
      return;
    }
    if (fresh) list.replaceChildren();
    for (const item of page.items) {
      list.append(
        el(
          "li",
          {},
          el(
            "a",
            { href: `#/extractions/${item.extraction_id}`, class: "history-item", dataset: { extraction: item.extraction_id } },
            el("span", { class: "history-name" }, breakable(item.filename || item.document_id)),
            el(
              "span",
              { class: "history-meta" },
              el("span", { class: `badge badge-${item.status}` }, item.status),
              item.status === "failed" ? ` ${item.failed_stage || ""}` : ` ${item.clause_count} clauses`,
              el("span", { class: "muted" }, ` · ${formatDate(item.finished_at)}`),
            ),
          ),
        ),
      );
    }
    historyCursor = page.next_cursor;
    $("history-more").hidden = !historyCursor;
    $("history-empty").hidden = list.childElementCount > 0;
    $("history-empty").textContent = "No extractions yet.";
  }

  // --- routing ---------------------------------------------------------------------------------
  function route() {
    const match = location.hash.match(/^#\/extractions\/(.+)$/);
    if (match) {
      follow(decodeURIComponent(match[1]));
    } else if (!location.hash.startsWith("#cat-")) {
      // #/portfolio is portfolio.js's.
      followToken++;
    }
  }

  function start() {
    $("file-input").addEventListener("change", (event) => chosenFile(event.target.files[0]));
    $("upload-form").addEventListener("submit", upload);
    const zone = $("dropzone");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer.files.length) {
        $("file-input").files = event.dataTransfer.files;
        chosenFile(event.dataTransfer.files[0]);
      }
    });
    $("history-more").addEventListener("click", () => loadHistory(false));
    $("status-filter").addEventListener("change", () => loadHistory(true));
    $("reextract-button").addEventListener("click", reextract);
    $("key-button").addEventListener("click", () => askForKey().then(() => loadHistory(true)));
    $("category-nav").addEventListener("click", (event) => {
      const link = event.target.closest("a[data-target]");
      if (!link) return;
      event.preventDefault();
      document.getElementById(link.dataset.target).scrollIntoView({ behavior: "smooth" });
    });
    window.addEventListener("hashchange", route);
    loadHistory(true);
    route();
  }

  start();
})();
