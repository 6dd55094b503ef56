"use strict";
// The outbox of the dispense page: every record is kept on the phone (IndexedDB) before
// anything is sent, with its client_ref made here; it is sent through
// POST /api/v1/dispensings/batch (idempotent by client_ref: sending again is safe) and
// leaves the queue only when the server answered it — "sent" with the server's figures,
// or "refused" with the problem. No answer (offline, timeout, server down, signed out):
// the record stays waiting and is sent again later.
(() => {
  const DB = "rdf-outbox";
  const STORE = "records";
  const KEEP_DONE_MS = 7 * 24 * 3600 * 1000;

  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: "client_ref" });
        store.createIndex("state", "state");
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function tx(mode, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const store = t.objectStore(STORE);
      let result;
      Promise.resolve(fn(store)).then((r) => { result = r; });
      t.oncomplete = () => { db.close(); resolve(result); };
      t.onerror = () => { db.close(); reject(t.error); };
      t.onabort = () => { db.close(); reject(t.error); };
    });
  }

  function request(r) {
    return new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }

  function randomHex(bytes) {
    const a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function deviceId() {
    let id = localStorage.getItem("rdf-device");
    if (!id) { id = randomHex(8); localStorage.setItem("rdf-device", id); }
    return id;
  }

  // web-<device>-<time>-<counter>-<random>: unique on this phone, and across phones.
  function newClientRef() {
    const n = parseInt(localStorage.getItem("rdf-counter") || "0", 10) + 1;
    localStorage.setItem("rdf-counter", String(n));
    return `web-${deviceId()}-${Date.now().toString(36)}-${n}-${randomHex(3)}`;
  }

  async function add(body, meta) {
    const rec = { client_ref: body.client_ref, body, meta: meta || {}, state: "waiting", created: Date.now(), answer: null, problem: null };
    await tx("readwrite", (s) => s.put(rec));
    return rec;
  }

  async function all() {
    const recs = await tx("readonly", (s) => request(s.getAll()));
    return (recs || []).sort((a, b) => a.created - b.created);
  }

  async function settle(results) {
    // results: [{client_ref, state, answer, problem}]; only records still waiting change.
    await tx("readwrite", async (s) => {
      for (const r of results) {
        const rec = await request(s.get(r.client_ref));
        if (!rec || rec.state !== "waiting") continue;
        rec.state = r.state; rec.answer = r.answer; rec.problem = r.problem; rec.done = Date.now();
        s.put(rec);
      }
    });
  }

  async function prune() {
    const old = (await all()).filter((r) => r.state !== "waiting" && Date.now() - (r.done || r.created) > KEEP_DONE_MS);
    if (old.length) await tx("readwrite", (s) => { for (const r of old) s.delete(r.client_ref); });
  }

  function retryable(result) {
    const p = result.problem || {};
    return result.status >= 500 || result.status === 429 || (result.status === 409 && /send it again/.test(p.detail || ""));
  }

  let sending = null;
  // Send every waiting record once; resolves to {sent, refused, kept, error?}.
  function sendWaiting(csrf) {
    if (sending) return sending;
    const run = async () => {
      const waiting = (await all()).filter((r) => r.state === "waiting");
      if (!waiting.length) return { count: 0 };
      let response;
      try {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), 30000);
        response = await fetch("/api/v1/dispensings/batch", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
          body: JSON.stringify({ dispensings: waiting.map((r) => r.body) }),
          signal: controller.signal,
        });
        clearTimeout(timer);
      } catch (e) {
        return { count: waiting.length, error: "network" };
      }
      if (response.status === 401 || response.status === 400 || response.status === 403) {
        return { count: waiting.length, error: "auth" };
      }
      if (response.status !== 200) return { count: waiting.length, error: "server" };
      let body;
      try { body = await response.json(); } catch (e) { return { count: waiting.length, error: "server" }; }
      const settled = [];
      (body.results || []).forEach((result, i) => {
        const rec = waiting[i];
        if (!rec || retryable(result)) return;
        if (result.status === 201 || result.status === 200) {
          settled.push({ client_ref: rec.client_ref, state: "sent", answer: result.dispensing, problem: null });
        } else {
          settled.push({ client_ref: rec.client_ref, state: "refused", answer: null, problem: result.problem || { detail: String(result.status) } });
        }
      });
      await settle(settled);
      return { count: waiting.length };
    };
    const locked = navigator.locks ? () => navigator.locks.request("rdf-outbox-send", run) : run;
    sending = locked().finally(() => { sending = null; });
    return sending;
  }

  window.RdfOutbox = { add, all, sendWaiting, newClientRef, prune };
})();
