// The live view: one server-sent event per published message, newest on top. Pausing closes
// the stream (the server's temporary queue goes with it); resuming opens a new one.
(function () {
  "use strict";
  var button = document.getElementById("pause");
  var status = document.getElementById("status");
  var rows = document.getElementById("events");
  var url = button.dataset.stream;
  var source = null;
  var KEEP = 500;

  function cell(text, code) {
    var td = document.createElement("td");
    var inner = code ? document.createElement("code") : td;
    inner.textContent = text == null ? "" : String(text);
    if (code) td.appendChild(inner);
    return td;
  }

  function show(message) {
    var headers = message.headers || {};
    var task = headers["task-id"];
    var tr = document.createElement("tr");
    tr.appendChild(cell(new Date().toISOString()));
    tr.appendChild(cell(message.routing_key, true));
    tr.appendChild(cell(message.message_id, true));
    var taskCell = document.createElement("td");
    if (task) {
      var link = document.createElement("a");
      link.href = "/tasks/" + encodeURIComponent(task);
      link.textContent = task;
      taskCell.appendChild(link);
    }
    tr.appendChild(taskCell);
    tr.appendChild(cell(headers["task-phase"]));
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > KEEP) rows.removeChild(rows.lastChild);
  }

  function start() {
    source = new EventSource(url);
    status.textContent = "connecting…";
    source.addEventListener("ready", function () { status.textContent = "watching"; });
    source.addEventListener("message", function (e) { show(JSON.parse(e.data)); });
    source.onerror = function () { status.textContent = "reconnecting…"; };
    button.textContent = "Pause";
  }

  function stop() {
    source.close();
    source = null;
    status.textContent = "paused";
    button.textContent = "Resume";
  }

  button.addEventListener("click", function () { if (source) stop(); else start(); });
  start();
})();
