// The portfolio (every contract's current extraction: filters, sorting, export) and the evidence
// view (a finding on its PDF page, highlighted). Uses viewer.js's helpers (window.charmelio).
// Contract text is untrusted: it only ever enters the page as text.
"use strict";

(() => {
  const { api, apiBlob, el, breakable, formatDay } = window.charmelio;
  const $ = (id) => document.getElementById(id);
  // CUAD's categories, in the order of its master-clauses sheet (charmelio.contract).
  const CATEGORIES = [
    "Document Name", "Parties", "Agreement Date", "Effective Date", "Expiration Date",
    "Renewal Term", "Notice Period to Terminate Renewal", "Governing Law", "Most Favored Nation",
    "Non-Compete", "Exclusivity", "No-Solicit of Customers", "Competitive Restriction Exception",
    "No-Solicit of Employees", "Non-Disparagement", "Termination for Convenience",
    "Rofr/Rofo/Rofn", "Change of Control", "Anti-Assignment", "Revenue/Profit Sharing",
    "Price Restrictions", "Minimum Commitment", "Volume Restriction", "IP Ownership Assignment",
    "Joint IP Ownership", "License Grant", "Non-Transferable License",
    "Affiliate License-Licensor", "Affiliate License-Licensee",
    "Unlimited/All-You-Can-Eat-License", "Irrevocable or Perpetual License", "Source Code Escrow",
    "Post-Termination Services", "Audit Rights", "Uncapped Liability", "Cap on Liability",
    "Liquidated Damages", "Warranty Duration", "Insurance", "Covenant Not to Sue",
    "Third Party Beneficiary",
  ];
  const COLUMNS = [
    ["name", "Contract"],
    [null, "Parties"],
    ["effective_date", "Effective"],
    ["expiration_date", "Expires"],
    ["governing_law", "Governing law"],
    ["clause_count", "Findings"],
  ];
  const PAGE_SIZE = 50;
  const state = { sort: "recent", order: null, cursor: null, findingsCursor: null, token: 0 };

  // --- filters --------------------------------------------------------------------------------
  function fillCategorySelects() {
    for (const id of ["filter-category", "filter-has", "filter-lacks"]) {
      const select = $(id);
      for (const category of CATEGORIES) select.append(el("option", { value: category }, category));
    }
  }

  function filterParams() {
    const params = new URLSearchParams();
    const form = new FormData($("portfolio-filters"));
    const names = {
      q: "q", category: "category", has: "has", lacks: "lacks", governing_law: "governing_law",
      party: "party", effective_from: "effective_from", effective_to: "effective_to",
      expires_from: "expires_from", expires_to: "expires_to",
    };
    for (const [field, param] of Object.entries(names)) {
      const value = String(form.get(field) || "").trim();
      if (value) params.set(param, value);
    }
    return params;
  }

  // --- the contracts table ---------------------------------------------------------------------
  function renderHead() {
    const head = $("portfolio-head");
    head.replaceChildren();
    for (const [sort, label] of COLUMNS) {
      if (!sort) {
        head.append(el("th", { scope: "col" }, label));
        continue;
      }
      const active = state.sort === sort;
      const arrow = active ? (state.order === "desc" ? " ▼" : " ▲") : "";
      head.append(
        el("th", { scope: "col", class: "sortable", "aria-sort": active ? (state.order === "desc" ? "descending" : "ascending") : null },
          el("button", { type: "button", class: "sort-button", dataset: { sort } }, label + arrow)),
      );
    }
    for (const category of CATEGORIES) {
      head.append(el("th", { scope: "col", class: "category-col", title: category }, el("span", {}, category)));
    }
  }

  function cell(value) {
    return el("td", {}, value === null || value === undefined || value === "" ? el("span", { class: "muted" }, "—") : value);
  }

  function renderRow(contract) {
    const present = new Set(contract.categories);
    const link = el("a", { href: `#/extractions/${contract.extraction_id}`, class: "contract-link", dataset: { extraction: contract.extraction_id } },
      breakable(contract.filename || contract.document_id));
    const row = el(
      "tr",
      { dataset: { extraction: contract.extraction_id } },
      el("td", { class: "contract-name" }, link),
      cell(contract.parties.map((party) => party.name).join("; ")),
      cell(formatDay(contract.effective_date)),
      cell(formatDay(contract.expiration_date)),
      cell(contract.governing_law),
      cell(String(contract.clause_count)),
    );
    for (const category of CATEGORIES) {
      row.append(
        el("td", { class: present.has(category) ? "category-cell has" : "category-cell", title: `${category}: ${present.has(category) ? "found" : "not found"}` },
          present.has(category) ? "●" : ""),
      );
    }
    return row;
  }

  async function loadContracts(fresh) {
    const token = fresh ? ++state.token : state.token;
    const params = filterParams();
    params.set("limit", String(PAGE_SIZE));
    params.set("sort", state.sort);
    if (state.order) params.set("order", state.order);
    if (!fresh && state.cursor) params.set("cursor", state.cursor);
    $("portfolio-message").textContent = "Searching…";
    $("portfolio-message").classList.remove("error");
    let page;
    try {
      page = await api(`/api/contracts?${params}`);
    } catch (error) {
      $("portfolio-message").textContent = `Cannot search: ${error.message} (${error.code})`;
      $("portfolio-message").classList.add("error");
      return;
    }
    if (token !== state.token) return;
    const rows = $("portfolio-rows");
    if (fresh) rows.replaceChildren();
    for (const contract of page.items) rows.append(renderRow(contract));
    state.cursor = page.next_cursor;
    $("portfolio-more").hidden = !state.cursor;
    const count = rows.childElementCount;
    $("portfolio-message").textContent =
      count === 0 ? "No contract matches." : `${count}${state.cursor ? "+" : ""} contract${count === 1 ? "" : "s"}`;
    if (fresh) loadFindings(true);
  }

  // --- matching findings (with a text query or a category) ---------------------------------------
  function headline(clause) {
    if (!clause.headline) return clause.quote;
    return clause.headline.map((part) => (part.match ? el("mark", {}, part.text) : part.text));
  }

  async function loadFindings(fresh) {
    const params = filterParams();
    const section = $("portfolio-findings");
    if (!params.has("q") && !params.has("category")) {
      section.hidden = true;
      return;
    }
    params.set("limit", "20");
    if (!fresh && state.findingsCursor) params.set("cursor", state.findingsCursor);
    let page;
    try {
      page = await api(`/api/clauses?${params}`);
    } catch (error) {
      section.hidden = true;
      return;
    }
    const list = $("findings-list");
    if (fresh) list.replaceChildren();
    for (const clause of page.items) {
      list.append(
        el("li", { class: "clause finding", dataset: { extraction: clause.extraction_id, ordinal: clause.ordinal } },
          el("div", { class: "clause-meta" },
            el("a", { href: `#/extractions/${clause.extraction_id}` }, breakable(clause.filename || clause.document_id)),
            el("span", {}, clause.category),
            el("span", { class: "clause-page" }, `Page ${clause.page}`),
            el("button", { class: "evidence-button", type: "button", dataset: { extraction: clause.extraction_id, ordinal: clause.ordinal } }, "Show on page")),
          el("blockquote", { class: "quote clause-quote" }, headline(clause))),
      );
    }
    state.findingsCursor = page.next_cursor;
    $("findings-more").hidden = !state.findingsCursor;
    section.hidden = list.childElementCount === 0;
  }

  // --- export ----------------------------------------------------------------------------------
  async function exportAs(format) {
    const params = filterParams();
    params.set("format", format);
    $("portfolio-message").textContent = `Preparing the ${format.toUpperCase()} export…`;
    try {
      const { blob, disposition } = await apiBlob(`/api/export?${params}`);
      const name = (disposition.match(/filename="?([^";]+)"?/) || [])[1] || `charmelio-portfolio.${format}`;
      const url = URL.createObjectURL(blob);
      const link = el("a", { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      $("portfolio-message").textContent = `Exported ${name}.`;
    } catch (error) {
      $("portfolio-message").textContent = `Export failed: ${error.message}`;
      $("portfolio-message").classList.add("error");
    }
  }

  // --- evidence: a finding on its page -----------------------------------------------------------
  const evidence = { data: null, page: 1, imageUrl: null, token: 0 };

  async function showPage(page) {
    const token = ++evidence.token;
    const data = evidence.data;
    evidence.page = page;
    $("evidence-page-label").textContent = `Page ${page} of ${data.page_count}`;
    $("evidence-prev").disabled = page <= 1;
    $("evidence-next").disabled = page >= data.page_count;
    $("evidence-back").hidden = page === data.page;
    const image = $("evidence-image");
    image.classList.add("loading");
    try {
      const { blob } = await apiBlob(`/api/clauses/${data.extraction_id}/${data.ordinal}/pages/${page}`);
      if (token !== evidence.token) return;
      if (evidence.imageUrl) URL.revokeObjectURL(evidence.imageUrl);
      evidence.imageUrl = URL.createObjectURL(blob);
      image.src = evidence.imageUrl;
      image.dataset.page = String(page);
    } catch (error) {
      $("evidence-located").textContent = `Cannot show page ${page}: ${error.message}`;
    } finally {
      image.classList.remove("loading");
    }
  }

  const LOCATED = {
    offsets: "Highlighted from the stored character offsets.",
    text_search: "Found by searching the page for the quote.",
    not_found: "Could not be located on the page.",
  };

  async function openEvidence(extractionId, ordinal) {
    const dialog = $("evidence-dialog");
    let data;
    try {
      data = await api(`/api/clauses/${extractionId}/${ordinal}/evidence`);
    } catch (error) {
      window.alert(`Cannot show the evidence: ${error.message}`);
      return;
    }
    evidence.data = data;
    $("evidence-title").textContent = `${data.category} · page ${data.page}`;
    $("evidence-located").textContent = [LOCATED[data.located_by], data.note].filter(Boolean).join(" ");
    $("evidence-located").dataset.locatedBy = data.located_by;
    $("evidence-quote").textContent = data.quote;
    if (!dialog.open) dialog.showModal();
    await showPage(Math.min(data.page, data.page_count));
  }

  // --- routing ---------------------------------------------------------------------------------
  function route() {
    const onPortfolio = location.hash === "#/portfolio" || location.hash.startsWith("#/portfolio?");
    $("portfolio").hidden = !onPortfolio;
    $("portfolio-link").classList.toggle("active", onPortfolio);
    if (onPortfolio) {
      $("extraction").hidden = true;
      $("empty-state").hidden = true;
      if (!$("portfolio").dataset.loaded) {
        $("portfolio").dataset.loaded = "1";
        loadContracts(true);
      }
    } else if ($("extraction").hidden && !location.hash.startsWith("#/extractions/")) {
      $("empty-state").hidden = false;
    }
  }

  function start() {
    fillCategorySelects();
    renderHead();
    $("portfolio-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      state.cursor = null;
      loadContracts(true);
    });
    $("portfolio-filters").addEventListener("reset", () => setTimeout(() => loadContracts(true), 0));
    $("portfolio-more").addEventListener("click", () => loadContracts(false));
    $("findings-more").addEventListener("click", () => loadFindings(false));
    $("portfolio-head").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-sort]");
      if (!button) return;
      const sort = button.dataset.sort;
      if (state.sort === sort) {
        state.order = state.order === "desc" ? "asc" : "desc";
      } else {
        state.sort = sort;
        state.order = sort === "clause_count" ? "desc" : "asc";
      }
      renderHead();
      loadContracts(true);
    });
    for (const button of document.querySelectorAll(".export-button")) {
      button.addEventListener("click", () => exportAs(button.dataset.format));
    }
    document.addEventListener("click", (event) => {
      const button = event.target.closest(".evidence-button");
      if (!button) return;
      const extraction = button.dataset.extraction || ($("categories").dataset.extraction || "");
      if (extraction) openEvidence(extraction, button.dataset.ordinal);
    });
    $("evidence-prev").addEventListener("click", () => showPage(evidence.page - 1));
    $("evidence-next").addEventListener("click", () => showPage(evidence.page + 1));
    $("evidence-back").addEventListener("click", () => showPage(evidence.data.page));
    window.addEventListener("hashchange", route);
    route();
  }

  start();
})();
