// Forms of the desk pages that write through the JSON API: <form data-api="/api/v1/..."
// [data-method="POST"] [data-multipart] data-ok="message">. Field names are paths into the
// JSON body ("lines.0.quantity"); data-type="int" makes a number, data-type="bool" (a
// checkbox) a boolean; empty fields are left out. The call carries the session cookie and
// the CSRF header; a refusal shows the API's problem text in the form's alert; success
// reloads the page and says what was done in the page's status.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const DONE = "rdf-desk-done";

  function put(out, path, value) {
    const keys = path.split(".");
    let node = out;
    keys.forEach((key, i) => {
      const last = i === keys.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(keys[i + 1]);
      if (last) {
        node[key] = value;
      } else {
        if (node[key] === undefined) node[key] = nextIsIndex ? [] : {};
        node = node[key];
      }
    });
  }

  function prune(value) {
    if (Array.isArray(value)) {
      return value.map(prune).filter((v) => v !== undefined && !(typeof v === "object" && Object.keys(v).length === 0));
    }
    if (value && typeof value === "object") {
      for (const k of Object.keys(value)) value[k] = prune(value[k]);
    }
    return value;
  }

  function body(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.name === "csrf_token" || el.type === "submit" || el.type === "button") continue;
      if (el.type === "checkbox") {
        if (el.dataset.type === "bool") put(out, el.name, el.checked);
        continue;
      }
      let v = el.value.trim();
      if (v === "") continue;
      if (el.dataset.type === "int") {
        const n = Number(v);
        v = Number.isInteger(n) ? n : v;
      }
      put(out, el.name, v);
    }
    return prune(out);
  }

  function problemText(problem, status) {
    if (!problem || typeof problem !== "object") return `${status}`;
    let text = problem.detail || problem.title || `${status}`;
    const errors = problem.errors;
    if (errors && typeof errors === "object") {
      const parts = [];
      const walk = (node, path) => {
        if (Array.isArray(node) && node.every((x) => typeof x === "string")) {
          parts.push(`${path}: ${node.join(" ")}`);
        } else if (node && typeof node === "object") {
          for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
        }
      };
      walk(errors, "");
      if (parts.length && !text.includes(parts[0])) text += ` (${parts.join("; ")})`;
    }
    return text;
  }

  async function submit(form, event) {
    if (event.submitter && event.submitter.dataset.preview) return; // a plain GET
    event.preventDefault();
    const alert = form.querySelector('[role="alert"]');
    const buttons = form.querySelectorAll("button");
    alert.hidden = true;
    alert.textContent = "";
    const headers = { "X-CSRFToken": csrf, Accept: "application/json" };
    let payload;
    if (form.hasAttribute("data-multipart")) {
      payload = new FormData(form);
      payload.delete("csrf_token");
    } else {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body(form));
    }
    buttons.forEach((b) => (b.disabled = true));
    // A long request (a big bank file) says it is at work in the page's status region.
    const region = document.getElementById("done");
    const working = (text) => {
      if (region && form.dataset.working) region.textContent = text;
    };
    form.setAttribute("aria-busy", "true");
    working(form.dataset.working);
    try {
      const r = await fetch(form.dataset.api, {
        method: form.dataset.method || "POST",
        credentials: "same-origin",
        headers,
        body: payload,
      });
      let answer = null;
      try { answer = await r.json(); } catch (e) { answer = null; }
      if (!r.ok) {
        working("");
        alert.textContent = problemText(answer, r.status);
        alert.hidden = false;
        return;
      }
      let message = form.dataset.ok || "";
      if (answer && answer.id) message += ` #${answer.id}`;
      sessionStorage.setItem(DONE, message.trim());
      if (form.dataset.then) window.location.assign(form.dataset.then);
      else window.location.reload();
    } catch (e) {
      working("");
      alert.textContent = form.dataset.offline || "No connection.";
      alert.hidden = false;
    } finally {
      form.removeAttribute("aria-busy");
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  document.querySelectorAll("form[data-api]").forEach((form) => {
    form.addEventListener("submit", (event) => submit(form, event));
  });
  const done = sessionStorage.getItem(DONE);
  if (done !== null) {
    sessionStorage.removeItem(DONE);
    const region = document.getElementById("done");
    if (region) region.textContent = done;
  }
})();
