"use strict";
// The dispense page: medicine rows, the live quote, the patient's scheme, and recording
// through the outbox (outbox.js).
(() => {
  const form = document.getElementById("dispense-form");
  if (!form) return;
  const T = JSON.parse(document.getElementById("strings").textContent);
  const NAMES = JSON.parse(document.getElementById("medicine-names").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const pharmacy = form.dataset.pharmacy;
  const rows = document.getElementById("rows");
  const patient = document.getElementById("patient");
  const patientInfo = document.getElementById("patient-info");
  const result = document.getElementById("result");
  const outboxCount = document.getElementById("outbox-count");
  const outboxNote = document.getElementById("outbox-note");
  const outboxList = document.getElementById("outbox-list");
  const Outbox = window.RdfOutbox;
  let rowSeq = 0;

  const SYMBOL = { KHR: "៛", USD: "$" };
  function money(amount, currency) {
    const text = String(amount);
    const sign = text.startsWith("-") ? "-" : "";
    let [whole, frac] = text.replace("-", "").split(".");
    whole = (whole || "0").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    if (currency === "USD") frac = ((frac || "") + "00").slice(0, 2);
    return `${sign}${whole}${frac ? "." + frac : ""} ${SYMBOL[currency] || currency}`;
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : ""));
  }
  function today() {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ------------------------------------------------------------------ rows
  function addRow() {
    rowSeq += 1;
    const n = rowSeq;
    const row = el("div", { class: "row" });
    const medLabel = el("label", { for: `medicine-${n}`, class: "wide" }, T.medicine);
    const med = el("input", { id: `medicine-${n}`, list: "medicines", autocomplete: "off", autocapitalize: "characters", class: "wide medicine" });
    const qtyLabel = el("label", { for: `quantity-${n}` }, T.quantity);
    const qty = el("input", { id: `quantity-${n}`, type: "number", inputmode: "numeric", min: "1", class: "quantity" });
    const daysLabel = el("label", { for: `days-${n}` }, T.days_supply);
    const days = el("input", { id: `days-${n}`, type: "number", inputmode: "numeric", min: "1", max: "365", class: "days" });
    const qtyBox = el("div"); qtyBox.append(qtyLabel, qty);
    const daysBox = el("div"); daysBox.append(daysLabel, days);
    const remove = el("button", { type: "button", class: "secondary", "aria-label": `${T.remove} ${n}` }, T.remove);
    remove.addEventListener("click", () => { row.remove(); if (!rows.children.length) addRow(); quoteSoon(); });
    row.append(medLabel, med, qtyBox, daysBox, remove);
    rows.append(row);
    return row;
  }

  function medicineCode(text) {
    const t = text.trim();
    if (!t) return "";
    const upper = t.toUpperCase();
    if (upper in NAMES) return upper;
    const byName = Object.entries(NAMES).find(([, name]) => name.toLowerCase() === t.toLowerCase());
    if (byName) return byName[0];
    const partial = Object.entries(NAMES).filter(([, name]) => name.toLowerCase().includes(t.toLowerCase()));
    return partial.length === 1 ? partial[0][0] : upper;
  }

  function items() {
    const out = [];
    const days = [];
    for (const row of rows.querySelectorAll(".row")) {
      const m = medicineCode(row.querySelector(".medicine").value);
      const q = parseInt(row.querySelector(".quantity").value, 10);
      const d = parseInt(row.querySelector(".days").value, 10);
      if (m && q > 0) {
        const known = d >= 1 && d <= 365;
        out.push(known ? { medicine: m, quantity: q, days_supply: d } : { medicine: m, quantity: q });
        days.push(known ? d : null);
      }
    }
    return { items: out, days };
  }

  function body() {
    const code = patient.value.trim();
    return { pharmacy, patient: code || null, service_date: today(), items: items().items };
  }

  // ------------------------------------------------------------------ quote
  let quoteTimer = null;
  let quoteSeq = 0;
  function showQuote(q) {
    document.getElementById("q-price").textContent = q ? money(q.total_price, q.currency) : "—";
    document.getElementById("q-subsidy").textContent = q ? money(q.total_subsidy, q.currency) : "—";
    document.getElementById("q-pays").textContent = q ? money(q.total_copayment, q.currency) : "—";
  }
  function quoteSoon() { clearTimeout(quoteTimer); quoteTimer = setTimeout(quote, 300); }
  async function quote() {
    const b = body();
    const msg = document.getElementById("q-message");
    if (!b.items.length) { showQuote(null); msg.textContent = ""; return; }
    const seq = ++quoteSeq;
    try {
      const r = await fetch("/api/v1/dispensings/quote", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(b),
      });
      const answer = await r.json().catch(() => ({}));
      if (seq !== quoteSeq) return;
      if (r.ok) { showQuote(answer); msg.textContent = answer.budget_exhausted ? T.budget_exhausted : ""; }
      else { showQuote(null); msg.textContent = answer.detail || r.statusText; }
    } catch (e) {
      if (seq !== quoteSeq) return;
      showQuote(null); msg.textContent = T.quote_offline;
    }
  }

  // ------------------------------------------------------------------ patient
  let patientTimer = null;
  async function lookPatient() {
    const code = patient.value.trim();
    if (!code) { patientInfo.textContent = ""; return; }
    try {
      const r = await fetch(`/app/dispense/patient?code=${encodeURIComponent(code)}`, { credentials: "same-origin" });
      const p = await r.json();
      if (code !== patient.value.trim()) return;
      if (!p.found) patientInfo.textContent = T.unknown_patient;
      else if (!p.scheme) patientInfo.textContent = T.no_scheme;
      else patientInfo.textContent = `${fill(T.enrolled, { scheme: p.scheme_name || p.scheme, percent: p.percent })} ${p.cap_left ? fill(T.cap_left, { left: money(p.cap_left, p.currency) }) : T.no_cap}`;
    } catch (e) { patientInfo.textContent = ""; }
  }
  patient.addEventListener("input", () => { clearTimeout(patientTimer); patientTimer = setTimeout(lookPatient, 300); quoteSoon(); });
  rows.addEventListener("input", quoteSoon);

  // ------------------------------------------------------------------ outbox
  function describe(rec) {
    const li = el("li", { class: rec.state, "data-client-ref": rec.client_ref });
    const who = rec.body.patient || "—";
    const what = rec.body.items.map((i) => `${i.medicine} × ${i.quantity}`).join(", ");
    li.append(el("span", {}, `${who}: ${what} — `));
    const stateText = rec.state === "sent" ? T.sent : rec.state === "refused" ? T.refused : T.pending;
    li.append(el("span", { class: "state" }, stateText));
    if (rec.state === "sent" && rec.answer) {
      li.append(el("span", {}, ` · ${T.patient_pays}: ${money(rec.answer.total_copayment, rec.answer.currency)} · `));
      li.append(el("a", { href: `/app/dispensings/${rec.answer.id}/receipt` }, T.receipt));
    } else if (rec.state === "refused" && rec.problem) {
      li.append(el("span", { class: "problem" }, `: ${rec.problem.detail || rec.problem.title || ""}`));
    }
    return li;
  }

  let lastRef = null;
  async function render() {
    const recs = await Outbox.all();
    const waiting = recs.filter((r) => r.state === "waiting").length;
    outboxCount.textContent = fill(T.waiting, { n: waiting });
    outboxList.replaceChildren(...recs.slice().reverse().slice(0, 50).map(describe));
    const last = recs.find((r) => r.client_ref === lastRef);
    if (last) {
      result.replaceChildren();
      if (last.state === "sent") {
        result.append(el("span", {}, `${T.recorded} ${T.patient_pays}: ${money(last.answer.total_copayment, last.answer.currency)} `));
        result.append(el("a", { href: `/app/dispensings/${last.answer.id}/receipt` }, T.receipt));
      } else if (last.state === "refused") {
        result.append(el("span", {}, `${T.refused}: ${(last.problem && (last.problem.detail || last.problem.title)) || ""}`));
      } else {
        result.append(el("span", {}, T.saved_offline));
      }
    }
  }

  async function send() {
    const outcome = await Outbox.sendWaiting(csrf);
    outboxNote.textContent = outcome && outcome.error === "auth" ? T.sign_in_again : outcome && outcome.error ? T.not_sent_yet : "";
    await render();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const b = body();
    const { days } = items();
    if (!b.items.length) { result.textContent = T.need_item; return; }
    b.client_ref = Outbox.newClientRef();
    await Outbox.add(b, { days_supply: days });
    lastRef = b.client_ref;
    patient.value = ""; patientInfo.textContent = "";
    rows.replaceChildren(); addRow(); showQuote(null);
    await render();
    await send();
  });

  document.getElementById("add-row").addEventListener("click", () => { addRow().querySelector("input").focus(); });
  document.getElementById("send-now").addEventListener("click", send);
  window.addEventListener("online", send);
  setInterval(() => { if (navigator.onLine) send(); }, 15000);

  addRow();
  // The form is usable from here: tests and bench/page_load.py wait for this marker.
  document.body.dataset.ready = "1";
  if (window.performance && performance.mark) performance.mark("rdf-ready");
  Outbox.prune().catch(() => {});
  render().then(send);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
})();
