/* One-click merge (E18): the buttons of each open duplicate group trigger books_merge_customers
   through Airflow's REST API, as the logged-in user (the browser sends Airflow's own session
   cookie, same origin), wait for the run and show what check_merge reported. */
(function () {
  "use strict";
  var me = document.getElementById("crm-books-js");
  var dagId = me.dataset.dag;
  var confirmWord = me.dataset.confirm;
  var dagUrl = new URL("../api/v2/dags/" + encodeURIComponent(dagId), document.baseURI).href;
  var uiRunUrl = new URL("../dags/" + encodeURIComponent(dagId) + "/runs/", document.baseURI).href;

  function api(path, options) {
    var init = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    init.headers = Object.assign({ Accept: "application/json" }, init.headers);
    return fetch(dagUrl + path, init).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
        if (!response.ok) {
          var detail = body && body.detail ? JSON.stringify(body.detail) : String(text);
          throw new Error("Airflow answered " + response.status + ": " + detail);
        }
        return body;
      });
    });
  }

  function say(box, text, css) {
    var p = document.createElement("p");
    p.textContent = text;
    if (css) { p.className = css; }
    box.appendChild(p);
    return p;
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function waitForRun(runId) {
    var deadline = Date.now() + 10 * 60 * 1000;
    function poll() {
      return api("/dagRuns/" + encodeURIComponent(runId)).then(function (run) {
        if (run.state === "success" || run.state === "failed") { return run; }
        if (Date.now() > deadline) { throw new Error("the run did not end within 10 minutes"); }
        return sleep(2000).then(poll);
      });
    }
    return poll();
  }

  function xcom(runId, taskId) {
    return api("/dagRuns/" + encodeURIComponent(runId) + "/taskInstances/" + taskId +
      "/xcomEntries/return_value").then(function (entry) {
      var value = entry.value;
      if (typeof value === "string") { try { value = JSON.parse(value); } catch (e) { /* text */ } }
      return value;
    });
  }

  function failure(runId, taskId) {
    return api("/dagRuns/" + encodeURIComponent(runId) + "/taskInstances/" + taskId + "/logs/1")
      .then(function (log) {
        var text = JSON.stringify(log);
        var match = /(merge refused[^"\\]*|dry_run is off[^"\\]*|[a-z_]+ must be [^"\\]*)/.exec(text);
        return match ? match[1] : "see the task log";
      }, function () { return "see the task log"; });
  }

  function describe(report) {
    var m = report.moved;
    var verb = report.dry_run ? "would move" : "moved";
    var parts = [
      ["estimates", "estimate(s)"], ["invoices", "invoice(s)"],
      ["contact_persons", "contact person(s)"],
      ["duplicate_candidates_closed", "duplicate candidate(s) closed"],
      ["repointed_customers", "customer(s) folded earlier now pointing at the master"]
    ].map(function (p) {
      var ids = m[p[0]].ids.length ? " " + m[p[0]].ids.join(", ") : "";
      return m[p[0]].count + " " + p[1] + ids;
    });
    return (report.dry_run ? "Dry run, nothing changed: customers " : "Merged (merge " +
      report.merge_id + "): customers ") + report.merged_customer_ids.join(", ") +
      " into master " + report.master_customer_id + "; " + verb + " " + parts.join("; ") + ".";
  }

  function trigger(box, conf, taskId) {
    return api("").then(function (dag) {
      if (dag.is_paused) {
        throw new Error(dagId + " is paused: unpause it in Airflow (DAGs list), then try again");
      }
      return api("/dagRuns", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ logical_date: null, conf: conf })
      });
    }).then(function (run) {
      var status = say(box, "Run " + run.dag_run_id + " queued…", "muted run-status");
      return waitForRun(run.dag_run_id).then(function (ended) {
        status.textContent = "Run " + ended.dag_run_id + ": " + ended.state;
        var link = document.createElement("a");
        link.href = uiRunUrl + encodeURIComponent(ended.dag_run_id);
        link.target = "_top";
        link.textContent = " (open in Airflow)";
        status.appendChild(link);
        if (ended.state !== "success") {
          return failure(ended.dag_run_id, "check_merge").then(function (why) {
            throw new Error("the run failed: " + why);
          });
        }
        return xcom(ended.dag_run_id, taskId);
      });
    });
  }

  function dryRun(cell) {
    var box = cell.querySelector(".merge-result");
    var conf = JSON.parse(cell.dataset.conf);
    box.textContent = "";
    cell.querySelector(".merge-real").hidden = true;
    trigger(box, conf, "check_merge").then(function (report) {
      say(box, describe(report), "dry-run-report");
      cell.querySelector(".merge-real").hidden = false;
    }).catch(function (error) { say(box, String(error.message || error), "warning"); });
  }

  function askToMerge(cell) {
    var box = cell.querySelector(".merge-result");
    if (box.querySelector(".merge-confirm")) { return; }
    var conf = JSON.parse(cell.dataset.conf);
    var form = document.createElement("form");
    form.className = "merge-confirm";
    var label = document.createElement("label");
    label.textContent = "Merges cannot be undone. Type " + confirmWord + " to merge customers " +
      conf.merge_customer_ids.join(", ") + " into " + conf.master_customer_id + ": ";
    var input = document.createElement("input");
    input.name = "confirm";
    input.autocomplete = "off";
    label.appendChild(input);
    var go = document.createElement("button");
    go.type = "submit";
    go.textContent = "Merge";
    form.appendChild(label);
    form.appendChild(go);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (input.value.trim() !== confirmWord) {
        say(box, "Not merged: type " + confirmWord + " exactly.", "warning");
        return;
      }
      go.disabled = true;
      var real = Object.assign({}, conf, { dry_run: false, confirm: confirmWord });
      trigger(box, real, "merge_customers").then(function (report) {
        say(box, describe(report), "merge-report");
        form.remove();
        cell.querySelector(".merge-real").hidden = true;
        cell.querySelector(".merge-dry-run").disabled = true;
      }).catch(function (error) { say(box, String(error.message || error), "warning"); });
    });
    box.appendChild(form);
    input.focus();
  }

  document.querySelectorAll("td.merge").forEach(function (cell) {
    cell.querySelector(".merge-dry-run").addEventListener("click", function () { dryRun(cell); });
    cell.querySelector(".merge-real").addEventListener("click", function () { askToMerge(cell); });
  });
})();
