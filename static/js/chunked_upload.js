// Chunked, resumable dataset uploads (governance/datasets/api_uploads.py). A file larger than the form's
// data-inline-max is sent as chunked POSTs to /api/dataset-uploads/<id>/chunks/?offset=N; when a request fails
// (a dropped connection) the page asks the upload for the bytes it holds and carries on from there. The upload
// id is kept in localStorage under the file's name, size and date, so choosing the same file after a reload
// resumes too. When the last byte is stored, the page opens the upload's status (the loading job's live bar).
(function () {
  var form = document.getElementById("dataset-upload-form");
  if (!form || !window.fetch || !window.Blob) return;
  var inlineMax = +form.getAttribute("data-inline-max"), chunk = +form.getAttribute("data-chunk-bytes");
  var startUrl = form.getAttribute("data-start-url");
  var box = document.getElementById("chunk-progress");
  function csrf() { var el = form.querySelector("[name=csrfmiddlewaretoken]"); return el ? el.value : ""; }
  function key(file) { return "dataset-upload:" + file.name + ":" + file.size + ":" + file.lastModified; }
  function show(sent, total, state) {
    box.hidden = false;
    var pct = total ? (100 * sent / total) : 0;
    box.querySelector(".bar span").style.width = pct.toFixed(1) + "%";
    box.querySelector(".bar").setAttribute("aria-valuenow", pct.toFixed(0));
    box.querySelector("[data-field=sent]").textContent = (sent / 1048576).toFixed(1) + " of " + (total / 1048576).toFixed(1) + " MB";
    box.querySelector("[data-field=state]").textContent = state || "";
  }
  function api(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "Accept": "application/json", "X-CSRFToken": csrf() }, options.headers || {});
    return fetch(url, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return { status: r.status, body: body }; });
    });
  }
  function fieldErrors(body) {
    var messages = [];
    Object.keys(body || {}).forEach(function (k) { messages.push(k + ": " + [].concat(body[k]).join(" ")); });
    return messages.join("; ");
  }
  function start(file) {
    var data = {};
    new FormData(form).forEach(function (value, name) {
      if (name === "csrfmiddlewaretoken" || name === "file" || value === "") return;
      data[name] = value;
    });
    if (data.special_categories !== undefined) data.special_categories = true;
    data.file_name = file.name;
    data.size = file.size;
    return api(startUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
  }
  function send(file, upload, offset, failures) {
    if (offset >= file.size) return finished(file, upload);
    show(offset, file.size, failures ? "resuming after a dropped connection…" : "");
    var end = Math.min(file.size, offset + chunk);
    api("/api/dataset-uploads/" + upload + "/chunks/?offset=" + offset,
        { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file.slice(offset, end) })
      .then(function (r) {
        if (r.status === 200 || r.status === 409) return send(file, upload, r.body.offset, 0);
        throw new Error(r.body.detail || fieldErrors(r.body) || ("HTTP " + r.status));
      })
      .catch(function (error) {
        if (failures > 20) { show(offset, file.size, "stopped: " + error.message); return; }
        setTimeout(function () {  // ask where the upload stands, then carry on from there
          api("/api/dataset-uploads/" + upload + "/").then(function (r) {
            send(file, upload, r.status === 200 ? r.body.offset : offset, failures + 1);
          }).catch(function () { send(file, upload, offset, failures + 1); });
        }, Math.min(10000, 500 * Math.pow(2, failures)));
      });
  }
  function finished(file, upload) {
    localStorage.removeItem(key(file));
    show(file.size, file.size, "received; loading…");
    window.location.href = "/datasets/uploads/" + upload + "/";
  }
  form.addEventListener("submit", function (event) {
    var input = form.querySelector("input[type=file][name=file]");
    var file = input && input.files && input.files[0];
    if (!file || file.size <= inlineMax) return;  // small files: the ordinary form post
    event.preventDefault();
    var known = localStorage.getItem(key(file));
    var resume = known ? api("/api/dataset-uploads/" + known + "/").then(function (r) {
      return r.status === 200 && r.body.status === "receiving" ? r.body : null;
    }) : Promise.resolve(null);
    resume.then(function (found) {
      if (found) return send(file, found.id, found.offset, 0);
      return start(file).then(function (r) {
        if (r.status !== 201) { show(0, file.size, fieldErrors(r.body) || r.body.detail || ("HTTP " + r.status)); return; }
        localStorage.setItem(key(file), r.body.id);
        send(file, r.body.id, r.body.offset, 0);
      });
    });
  });
})();
