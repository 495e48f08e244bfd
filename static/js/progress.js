// Live progress for background jobs: every element with data-job-id polls /api/jobs/<id>/ and
// updates its bar; when the job finishes the page reloads to show the stored results.
(function () {
  function fmt(s) { if (s == null) return ""; s = Math.round(s); return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s"; }
  // Results as they come: when the job has stored more stages than the page shows, fetch the page again and
  // swap in its results (same document, so the reader keeps their place).
  function refreshResults(job) {
    var box = document.getElementById("report-results");
    if (!box || !box.hasAttribute("data-live-results") || !job.detail || job.detail.stored_stages == null) return;
    if (job.detail.stored_stages <= +box.getAttribute("data-live-results") || box.getAttribute("data-loading")) return;
    box.setAttribute("data-loading", "1");
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("report-results");
        if (fresh) { box.innerHTML = fresh.innerHTML; box.setAttribute("data-live-results", fresh.getAttribute("data-live-results") || job.detail.stored_stages); }
      })
      .finally(function () { box.removeAttribute("data-loading"); });
  }
  function poll(el) {
    var id = el.getAttribute("data-job-id");
    fetch("/api/jobs/" + id + "/", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        var bar = el.querySelector(".bar");
        bar.querySelector("span").style.width = (job.percent || 0).toFixed(1) + "%";
        bar.setAttribute("aria-valuenow", (job.percent || 0).toFixed(0));
        el.querySelector("[data-field=stage]").textContent = job.stage || job.status;
        el.querySelector("[data-field=percent]").textContent = (job.percent || 0).toFixed(0) + "%";
        el.querySelector("[data-field=elapsed]").textContent = fmt(job.elapsed_s);
        var eta = el.querySelector("[data-field=eta]");
        if (eta) eta.textContent = job.status === "running" && job.detail && job.detail.eta_s != null ? " · about " + fmt(job.detail.eta_s) + " left" : "";
        refreshResults(job);
        var extra = [];
        ["epoch", "step", "loss", "val_metric"].forEach(function (k) {
          if (job.detail && job.detail[k] != null) extra.push(k.replace("_", " ") + " " + (typeof job.detail[k] === "number" ? +job.detail[k].toFixed(4) : job.detail[k]));
        });
        el.querySelector("[data-field=detail]").textContent = extra.join(" · ");
        var badge = el.querySelector("[data-field=status]");
        badge.textContent = job.status;
        badge.className = "badge " + job.status;
        if (job.status === "failed") {
          el.classList.add("failed");
          var error = el.querySelector("[data-field=error]");
          error.textContent = "Failed: " + (job.error || "no reason recorded");
          error.setAttribute("role", "alert");
        } else if (job.status === "complete") {
          if (el.getAttribute("data-was-active") === "1") window.location.reload();
        } else {
          el.setAttribute("data-was-active", "1");
          setTimeout(function () { poll(el); }, 1000);
        }
      })
      .catch(function () { setTimeout(function () { poll(el); }, 3000); });
  }
  document.querySelectorAll("[data-job-id]").forEach(poll);
})();
