"use strict";
// The Return form of a dispensing: POST /api/v1/dispensings/{id}/returns with the session
// and the CSRF header; one Idempotency-Key per page, so a double tap returns once.
(() => {
  const form = document.getElementById("return-form");
  if (!form) return;
  const problem = document.getElementById("return-problem");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const items = [];
    for (const input of form.querySelectorAll("input[type=number]")) {
      const q = parseInt(input.value, 10);
      if (q > 0) items.push({ medicine: input.name, quantity: q });
    }
    if (!items.length) return;
    problem.hidden = true;
    try {
      const r = await fetch(`/api/v1/dispensings/${form.dataset.dispensing}/returns`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Idempotency-Key": form.dataset.key },
        body: JSON.stringify({ items }),
      });
      if (r.ok) { window.location.reload(); return; }
      const body = await r.json().catch(() => ({}));
      problem.textContent = body.detail || r.statusText;
    } catch (e) {
      problem.textContent = String(e);
    }
    problem.hidden = false;
  });
})();
