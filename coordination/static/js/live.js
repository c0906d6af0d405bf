/* Live pages (docs/live.md). The <body> names the topics the page listens to
 * (data-live-topics: "me", "tf:<id>", "tf:*"); elements with an id and
 * data-live-region="updates overview ..." are the parts that change. When the server
 * says a region changed, the page is fetched again (a normal, permission-checked GET) and
 * those elements are replaced with their new versions; nothing pushed is ever shown.
 *
 * Push: Server-Sent Events from data-live-stream; the browser resumes after a dropped
 * connection with Last-Event-ID. Where push is unavailable (the stream answers 204 or
 * keeps failing), the page polls data-live-versions with If-None-Match every
 * data-live-poll seconds and refetches the regions of a topic whose version moved.
 */
(function () {
  "use strict";
  var body = document.body;
  if (!body || !body.dataset.liveStream) { return; }
  var topics = (body.dataset.liveTopics || "me").split(/\s+/).filter(Boolean);
  var pollSeconds = parseInt(body.dataset.livePoll || "5", 10) || 5;
  // what arrived, for people debugging a page and for the browser tests
  var state = window.concordLive = { events: [], refreshes: 0, mode: "starting" };

  var pending = {};
  var timer = null;

  function regionsOf(element) {
    return (element.getAttribute("data-live-region") || "").split(/\s+/).filter(Boolean);
  }

  function refresh(regions) {
    regions.forEach(function (r) { pending[r] = true; });
    if (timer) { return; }
    // a burst of changes costs one refetch
    timer = window.setTimeout(function () {
      var wanted = pending;
      pending = {};
      timer = null;
      var targets = Array.prototype.filter.call(
        document.querySelectorAll("[data-live-region][id]"),
        function (el) { return wanted["*"] || regionsOf(el).some(function (r) { return wanted[r] || r === "*"; }); }
      );
      if (!targets.length) { return; }
      fetch(window.location.href, {
        credentials: "same-origin",
        headers: { "X-Concord-Background": "1" },
        cache: "no-store"
      }).then(function (response) {
        if (!response.ok || response.redirected) { return null; }
        return response.text();
      }).then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        targets.forEach(function (el) {
          var replacement = fresh.getElementById(el.id);
          if (!replacement) { return; }
          var node = document.importNode(replacement, true);
          el.replaceWith(node);
          if (window.htmx) { window.htmx.process(node); }
        });
        state.refreshes += 1;
        body.dispatchEvent(new CustomEvent("concord:live-refreshed", { bubbles: true }));
      }).catch(function () { /* the next change or poll tries again */ });
    }, 100);
  }

  // --- polling, where push is unavailable ---------------------------------------------------
  var polling = null;
  var etag = null;
  var known = null;

  function poll() {
    var url = body.dataset.liveVersions + "?" + topics.map(function (t) {
      return "topic=" + encodeURIComponent(t);
    }).join("&");
    var headers = { "X-Concord-Background": "1" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(url, { credentials: "same-origin", headers: headers, cache: "no-store" })
      .then(function (response) {
        if (response.status !== 200) { return null; }
        etag = response.headers.get("ETag");
        return response.json();
      }).then(function (versions) {
        if (!versions) { return; }
        if (known) {
          var changed = topics.some(function (t) { return known[t] !== versions[t]; });
          if (changed) { refresh(["*"]); }
        }
        known = versions;
      }).catch(function () { /* try again at the next tick */ });
  }

  function startPolling() {
    if (polling) { return; }
    state.mode = "polling";
    poll();
    polling = window.setInterval(poll, pollSeconds * 1000);
  }

  function stopPolling() {
    if (!polling) { return; }
    window.clearInterval(polling);
    polling = null;
  }

  // --- push -----------------------------------------------------------------------------------
  if (!window.EventSource) { startPolling(); return; }
  var url = body.dataset.liveStream + "?" + topics.map(function (t) {
    return "topic=" + encodeURIComponent(t);
  }).join("&") + "&since=" + encodeURIComponent(body.dataset.liveSince || "");
  var source = new EventSource(url);
  var failures = 0;
  source.addEventListener("open", function () {
    failures = 0;
    state.mode = "push";
    if (polling) {
      // caught up by the stream from where it left off; stop asking
      stopPolling();
    }
  });
  source.addEventListener("change", function (event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    state.events.push(data);
    refresh(data.regions || []);
  });
  source.addEventListener("error", function () {
    failures += 1;
    // closed for good (204: no push here; 403: signed out) or failing again and again
    if (source.readyState === EventSource.CLOSED || failures >= 3) { startPolling(); }
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
