// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#element-id">. The Clipboard API needs a secure context
  // (HTTPS or localhost); elsewhere the text is copied through a selection, and if the browser
  // refuses that too it is left selected for Ctrl+C. A live region says what happened.
  var announcer = null;
  function announce(text) {
    if (!announcer) {
      announcer = document.createElement("span");
      announcer.className = "visually-hidden";
      announcer.setAttribute("role", "status");
      document.body.appendChild(announcer);
    }
    announcer.textContent = text;
  }

  function copyBySelection(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    document.body.removeChild(area);
    return copied;
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var label = button.textContent;
    var timer = null;
    function show(text) {
      button.textContent = text;
      announce(text);
      clearTimeout(timer);
      timer = setTimeout(function () { button.textContent = label; }, 2000);
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var target = document.querySelector(button.getAttribute("data-copy"));
      if (!target) return;
      var text = target.textContent.trim();
      function fallback() {
        if (copyBySelection(text)) {
          show("Copied");
        } else {
          selectText(target);
          show("Press Ctrl+C to copy");
        }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { show("Copied"); }, fallback);
      } else {
        fallback();
      }
    });
  });

  // After a refused form, the focus goes to the first field that needs fixing.
  var invalid = document.querySelector("form [aria-invalid=true]");
  if (invalid) invalid.focus();

  // Relative times tick: <time datetime> says "3 minutes ago" as the server wrote it, and is
  // kept current here with the same words (the exact time stays in its title).
  function relative(ageMs) {
    var future = ageMs < 0;
    var secs = Math.floor(Math.abs(ageMs) / 1000);
    if (secs < 10) return "just now";
    var n, unit;
    if (secs < 60) { n = secs; unit = "second"; }
    else if (secs < 3600) { n = Math.floor(secs / 60); unit = "minute"; }
    else if (secs < 86400) { n = Math.floor(secs / 3600); unit = "hour"; }
    else { n = Math.floor(secs / 86400); unit = "day"; }
    var words = n + " " + unit + (n === 1 ? "" : "s");
    return future ? "in " + words : words + " ago";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (time) {
      var at = Date.parse(time.getAttribute("datetime"));
      if (!isNaN(at)) time.textContent = relative(now - at);
    });
  }
  setInterval(tick, 5000);

  // Live pages: the parts marked <… id data-live> are fetched again every few seconds while the
  // tab is visible and replaced when they changed, so a delivery turns from Sending… to
  // Succeeded without a reload. Without script, reloading shows the same.
  var LIVE_MS = 2000;
  if (document.querySelector("[data-live]") && window.fetch && window.DOMParser) {
    var refresh = function () {
      if (document.hidden) { setTimeout(refresh, LIVE_MS); return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) throw new Error("status " + response.status);
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live]").forEach(function (part) {
            var next = fresh.getElementById(part.id);
            if (next && next.innerHTML !== part.innerHTML) part.innerHTML = next.innerHTML;
          });
          tick();
        })
        .catch(function () {
          // Signed out or the server is away: the page stays as it is; a reload tells why.
        })
        .then(function () { setTimeout(refresh, LIVE_MS); });
    };
    setTimeout(refresh, LIVE_MS);
  }

  // Confirm dangerous actions: <form data-confirm="message">.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // Edit Webhook List: typing in the search box fills the dropdown from the API as you type.
  // <input data-typeahead="#select" data-typeahead-status="#status"> inside the form whose
  // hidden `webhook_ids` are the webhooks already in the list (left out of the matches).
  document.querySelectorAll("input[data-typeahead]").forEach(function (input) {
    var select = document.querySelector(input.getAttribute("data-typeahead"));
    var status = document.querySelector(input.getAttribute("data-typeahead-status"));
    if (!select || !window.fetch) return;
    var timer = null;
    var controller = null;

    function inList() {
      var ids = [];
      input.form.querySelectorAll("input[name=webhook_ids]").forEach(function (hidden) {
        ids.push(hidden.value);
      });
      return ids;
    }

    function option(value, label) {
      var element = document.createElement("option");
      element.value = value;
      element.textContent = label;
      return element;
    }

    function fill(webhooks, text) {
      var skip = inList();
      var shown = webhooks.filter(function (webhook) { return skip.indexOf(webhook.id) < 0; });
      select.textContent = "";
      shown.forEach(function (webhook) { select.appendChild(option(webhook.id, webhook.name)); });
      if (!shown.length) select.appendChild(option("", "No webhook matches"));
      if (status) {
        status.textContent = shown.length + (shown.length === 1 ? " webhook matches" : " webhooks match") +
          (text ? " \u201c" + text + "\u201d." : ".");
      }
    }

    function search() {
      var text = input.value.trim();
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      fetch("/api/v1/webhooks?limit=20&name=" + encodeURIComponent(text), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      }).then(function (body) {
        fill(body.data || [], text);
      }).catch(function () {
        // Aborted by a newer search, or the API is unreachable: the Search button still works.
      });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
  });
})();
