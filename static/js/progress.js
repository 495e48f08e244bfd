// Live progress for background jobs: every element with data-job-id polls /api/jobs/<id>/ and
// updates its bar; when the job finishes the page reloads to show the stored results.
(function () {
  function fmt(s) { if (s == null) return ""; s = Math.round(s); return s < 60 ? s + " s" : Math.floor(s / 60) + " min " + (s % 60) + " s"; }
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
