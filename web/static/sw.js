"use strict";
// The service worker of /app/: keeps the app shell (the dispense page, its scripts, styles
// and font) so that /app/dispense opens without a connection. Pages: network first, the
// kept copy when offline. Static files: the kept copy, refreshed in the background (not the
// vendor/ files: their paths are versioned). The API is never cached (the outbox decides
// what happens without a connection).
const CACHE = "rdf-shell-v2";
const SHELL = [
  "/app/dispense",
  "/app/static/app.css",
  "/app/static/outbox.js",
  "/app/static/dispense.js",
  "/app/static/vendor/noto-sans-khmer-5.3.0/font.css",
  "/app/static/vendor/noto-sans-khmer-5.3.0/files/noto-sans-khmer-khmer-400-normal.woff2",
  "/app/static/vendor/noto-sans-khmer-5.3.0/files/noto-sans-khmer-latin-400-normal.woff2",
  "/app/static/vendor/noto-sans-khmer-5.3.0/files/noto-sans-khmer-khmer-700-normal.woff2",
  "/app/static/vendor/noto-sans-khmer-5.3.0/files/noto-sans-khmer-latin-700-normal.woff2",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => Promise.all(SHELL.map((url) => cache.add(new Request(url, { credentials: "same-origin" })).catch(() => null))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (url.pathname.startsWith("/app/static/")) {
    event.respondWith(
      caches.open(CACHE).then(async (cache) => {
        const kept = await cache.match(request);
        // vendor/ paths carry their version (noto-sans-khmer-5.3.0): a kept copy is final,
        // so a repeat visit asks nothing for them; the app's own files are refreshed behind.
        if (kept && url.pathname.startsWith("/app/static/vendor/")) return kept;
        const fresh = fetch(request).then((r) => { if (r.ok) cache.put(request, r.clone()); return r; }).catch(() => kept);
        return kept || fresh;
      })
    );
    return;
  }
  if (request.mode === "navigate" && url.pathname === "/app/dispense") {
    event.respondWith(
      fetch(request).then((r) => {
        if (r.ok && !r.redirected) {
          const copy = r.clone();
          caches.open(CACHE).then((c) => c.put("/app/dispense", copy));
        }
        return r;
      }).catch(() => caches.open(CACHE).then((c) => c.match("/app/dispense")).then((r) => r || Response.error()))
    );
  }
});
