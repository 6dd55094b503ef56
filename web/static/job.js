// The job page (web/templates/jobs/job.html): ask the job's state every second and
// update the status region; when the file is ready, show its link and stop. Without
// this script the page's "Check again" link does the same by reloading.
(function () {
  "use strict";
  const box = document.getElementById("job");
  if (!box) return;
  const text = document.getElementById("job-text");
  const bar = document.getElementById("job-progress");
  const ready = document.getElementById("job-ready");
  const link = document.getElementById("job-file");
  const again = document.getElementById("job-again");
  async function poll() {
    let job;
    try {
      const r = await fetch(box.dataset.json, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) return;
      job = await r.json();
    } catch (e) {
      setTimeout(poll, 3000);
      return;
    }
    if (text.textContent !== job.text) text.textContent = job.text;
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
    bar.textContent = `${job.done} / ${job.total}`;
    if (job.state === "done" && job.file) {
      link.href = job.file;
      ready.hidden = false;
      if (again) again.hidden = true;
    } else if (job.state === "failed" || job.state === "interrupted") {
      window.location.reload(); // the page offers "Try again"
    } else {
      setTimeout(poll, 1000);
    }
  }
  if (ready.hidden) setTimeout(poll, 500);
})();
