// Voltroam admin overview: fetches /admin/overview with the admin JWT and renders it.
// No framework and nothing loaded from elsewhere. Data is only ever put in the page as text
// (platform names come from partners).
"use strict";

(function () {
  var STORAGE_KEY = "voltroam.adminToken";
  var REFRESH_MS = 5000;
  var STATUSES = ["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"];
  var timer = null;

  function $(id) {
    return document.getElementById(id);
  }

  function getToken() {
    try {
      return sessionStorage.getItem(STORAGE_KEY);
    } catch (e) {
      return null;
    }
  }

  function setToken(token) {
    try {
      if (token) sessionStorage.setItem(STORAGE_KEY, token);
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch (e) {
      /* storage refused (private mode): the token lives until the page is left */
    }
    memoryToken = token;
  }
  var memoryToken = null;

  // #token=... : keep it, then take it out of the address bar (and the history).
  function tokenFromFragment() {
    if (!location.hash) return;
    var params = new URLSearchParams(location.hash.slice(1));
    var token = params.get("token");
    if (token) setToken(token.trim());
    history.replaceState(null, "", location.pathname + location.search);
  }

  function setState(text, kind) {
    var el = $("state");
    el.textContent = text;
    el.className = kind || "";
  }

  function showSignIn(message) {
    stop();
    setToken(null);
    $("overview").hidden = true;
    clearData();
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-message").textContent = message;
    setState("Signed out", "warn");
    $("token").value = "";
    $("token").focus();
  }

  function clearData() {
    ["platforms", "chargers", "failed", "syncs", "payments", "agreements"].forEach(function (id) {
      $(id).tBodies[0].replaceChildren();
    });
    ["deliveries", "payment-counts"].forEach(function (id) {
      $(id).replaceChildren();
    });
  }

  function stop() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  function schedule() {
    stop();
    timer = setTimeout(load, REFRESH_MS);
  }

  // --- formatting --------------------------------------------------------------------------

  // Integer minor units -> "12.34 EUR" with the currency's decimals (no floating point).
  function money(minor, currency, exponent) {
    if (minor === null || minor === undefined) return "–";
    var digits = Math.max(0, exponent | 0);
    var sign = minor < 0 ? "-" : "";
    var units = String(Math.abs(minor));
    if (digits > 0) {
      units = units.padStart(digits + 1, "0");
      units = units.slice(0, -digits) + "." + units.slice(-digits);
    }
    return sign + units + " " + currency;
  }

  function ago(iso) {
    if (!iso) return "never";
    var seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
    return duration(Math.max(seconds, 0)) + " ago";
  }

  function duration(seconds) {
    seconds = Math.round(seconds);
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
    return Math.floor(seconds / 86400) + " d " + Math.floor((seconds % 86400) / 3600) + " h";
  }

  // One module of a pull: "120/250 (119 stored, 1 ignored)".
  function pulled(m) {
    if (!m) return "–";
    var objects = m.total === null ? String(m.objects) : m.objects + "/" + m.total;
    return objects + " (" + m.stored + " stored, " + m.ignored + " ignored)";
  }

  function stamp(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  // --- DOM helpers -------------------------------------------------------------------------

  function cell(text, className, title) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    if (title) td.title = title;
    return td;
  }

  function timeCell(iso) {
    return cell(ago(iso), "", stamp(iso));
  }

  function badge(text, tone) {
    var td = document.createElement("td");
    var span = document.createElement("span");
    span.className = "badge " + tone;
    span.textContent = text;
    td.appendChild(span);
    return td;
  }

  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) {
      tr.appendChild(c);
    });
    return tr;
  }

  function fill(tableId, rows, emptyText) {
    var body = $(tableId).tBodies[0];
    if (!rows.length) {
      var td = cell(emptyText, "empty");
      td.colSpan = $(tableId).tHead.rows[0].cells.length;
      rows = [row([td])];
    }
    body.replaceChildren.apply(body, rows);
  }

  function chips(listId, counts, emptyText) {
    var list = $(listId);
    var keys = Object.keys(counts).sort();
    if (!keys.length) {
      var none = document.createElement("li");
      none.textContent = emptyText;
      list.replaceChildren(none);
      return;
    }
    list.replaceChildren.apply(
      list,
      keys.map(function (key) {
        var li = document.createElement("li");
        li.textContent = key + ": " + counts[key];
        return li;
      })
    );
  }

  // --- rendering ---------------------------------------------------------------------------

  function render(data) {
    var connected = data.platforms.filter(function (p) {
      return p.status === "CONNECTED";
    }).length;
    $("n-platforms").textContent = connected + " / " + data.platforms.length;
    $("n-chargers").textContent = data.chargers.online + " / " + data.chargers.total;
    $("n-sessions").textContent = String(data.active_sessions);
    $("n-pending").textContent = String(data.deliveries.pending);
    $("oldest-pending").textContent =
      data.deliveries.oldest_pending_age_seconds === null
        ? ""
        : "oldest " + duration(data.deliveries.oldest_pending_age_seconds);
    $("n-failed").textContent = String(data.deliveries.failed);
    $("n-failed").parentNode.classList.toggle("alert", data.deliveries.failed > 0);
    $("n-payments").textContent = data.payments ? String(data.payments.total) : "–";

    fill(
      "platforms",
      data.platforms.map(function (p) {
        var roles = p.roles
          .map(function (r) {
            return r.role + " " + r.country_code + "*" + r.party_id;
          })
          .join(", ");
        var tone = STATUSES.indexOf(p.status) >= 0 ? p.status.toLowerCase() : "";
        return row([cell(p.name), cell(roles || "–"), badge(p.status, tone), timeCell(p.last_seen_at)]);
      }),
      "No platforms yet: invite one with POST /admin/invitations."
    );

    var shown = data.chargers.items.length;
    $("chargers-note").textContent =
      shown < data.chargers.total ? "Showing " + shown + " of " + data.chargers.total + ", online first." : "";
    fill(
      "chargers",
      data.chargers.items.map(function (c) {
        return row([
          cell(c.charge_point_id),
          cell(c.ocpp_version || "–"),
          badge(c.online ? "online" : "offline", c.online ? "connected" : "offline"),
          timeCell(c.last_seen_at),
        ]);
      }),
      "No chargers registered."
    );

    chips("deliveries", data.deliveries.by_status, "No deliveries yet.");
    fill(
      "failed",
      data.deliveries.recent_failed.map(function (d) {
        return row([
          timeCell(d.created_at),
          cell(d.platform_name),
          cell(d.method + " " + d.module + " " + d.path),
          cell(String(d.attempts), "num"),
          cell(d.last_error || "–", "reason"),
        ]);
      }),
      "No failed deliveries."
    );

    fill(
      "syncs",
      data.syncs.map(function (j) {
        var tone = { done: "connected", running: "planned", pending: "planned", failed: "offline" }[j.state] || "";
        return row([
          timeCell(j.created_at),
          cell(j.platform_name),
          cell(j.reason),
          badge(j.state + (j.attempts > 1 ? " (" + j.attempts + " tries)" : ""), tone),
          cell(pulled(j.modules.locations)),
          cell(pulled(j.modules.tariffs)),
          cell(j.error || "", "reason"),
        ]);
      }),
      "No pulls yet: a CPO's Locations and Tariffs are pulled when it registers."
    );

    if (!data.payments) {
      $("payments-note").textContent = "Payments are not available: the database has no payment tables yet.";
      $("payment-counts").replaceChildren();
      fill("payments", [], "–");
      fill("payouts", [], "–");
      return;
    }
    fill(
      "payouts",
      (data.payments.payouts || []).map(function (b) {
        var m = function (amount) {
          return cell(money(amount, b.currency, b.currency_exponent), "num");
        };
        return row([
          cell(b.cpo, "id"),
          cell(b.currency),
          m(b.captured),
          m(b.refunded),
          m(b.fees),
          m(b.payable),
          m(b.transferred),
          m(b.owed),
        ]);
      }),
      "Nothing captured at partner CPOs yet."
    );
    $("payments-note").textContent = "";
    chips("payment-counts", data.payments.by_status, "No payments yet.");
    fill(
      "payments",
      data.payments.recent.map(function (p) {
        var m = function (amount) {
          return cell(money(amount, p.currency, p.currency_exponent), "num");
        };
        return row([
          cell(stamp(p.created_at)),
          cell(p.public_id, "id", p.public_id),
          cell(p.provider),
          cell(p.status),
          cell(p.evse_uid),
          m(p.hold_amount),
          m(p.price),
          m(p.amount_captured),
          m(p.amount_refunded),
          m(p.shortfall),
        ]);
      }),
      "No payments yet."
    );
  }

  // The matrix of roaming agreements (GET /admin/agreements): a row per CPO, a column per eMSP.
  var AGREEMENT_TONES = { active: "connected", proposed: "planned", suspended: "suspended", ended: "offline" };

  function renderAgreements(data) {
    var cpos = [];
    var emsps = [];
    var byPair = {};
    data.agreements.forEach(function (a) {
      if (cpos.indexOf(a.cpo) < 0) cpos.push(a.cpo);
      if (emsps.indexOf(a.emsp) < 0) emsps.push(a.emsp);
      byPair[a.cpo + " " + a.emsp] = a;
    });
    cpos.sort();
    emsps.sort();
    $("agreements-note").textContent =
      "Pairs without an agreement are " +
      (data.default === "open" ? "active (AGREEMENTS_DEFAULT=open)." : "proposed: nothing flows (AGREEMENTS_DEFAULT=closed).");
    var head = $("agreements").tHead.rows[0];
    var corner = document.createElement("th");
    corner.textContent = "CPO \\ eMSP";
    head.replaceChildren(corner);
    emsps.forEach(function (e) {
      var th = document.createElement("th");
      th.textContent = e;
      head.appendChild(th);
    });
    fill(
      "agreements",
      cpos.map(function (c) {
        var th = document.createElement("th");
        th.textContent = c;
        th.scope = "row";
        return row(
          [th].concat(
            emsps.map(function (e) {
              var a = byPair[c + " " + e];
              if (!a) return cell("–");
              var text = a.state + (a.explicit ? "" : " (default)");
              if (a.modules) text += ": " + a.modules.join(", ");
              var td = badge(text, AGREEMENT_TONES[a.state] || "");
              td.dataset.pair = c + " " + e;
              var title = a.explicit ? "changed by " + (a.changed_by || "?") + " " + stamp(a.updated_at) : "";
              if (a.sync) {
                var note = document.createElement("span");
                note.className = "note";
                note.textContent = " sync " + a.sync.delivered + "/" + a.sync.queued + (a.sync.failed ? ", " + a.sync.failed + " failed" : "");
                td.appendChild(note);
              }
              if (title) td.title = title;
              return td;
            })
          )
        );
      }),
      "No CPO/eMSP pairs yet."
    );
  }

  function loadAgreements(token) {
    return fetch("/admin/agreements", {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) renderAgreements(data);
      })
      .catch(function () {
        /* the overview itself says when the hub cannot be reached */
      });
  }

  // --- loading -----------------------------------------------------------------------------

  function load() {
    var token = getToken() || memoryToken;
    if (!token) {
      showSignIn("This page needs an admin token: run 'voltroam admin-token' on the hub and paste it here.");
      return;
    }
    fetch("/admin/overview", {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    })
      .then(function (response) {
        if (response.status === 401) {
          showSignIn("The admin token was refused (wrong or expired). Please sign in with a new one.");
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        render(data);
        loadAgreements(token);
        $("sign-in").hidden = true;
        $("overview").hidden = false;
        $("sign-out").hidden = false;
        setState("Updated " + new Date(data.generated_at).toLocaleTimeString(), "ok");
        schedule();
      })
      .catch(function (error) {
        setState("Could not load the overview (" + error.message + "); retrying…", "warn");
        schedule();
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tokenFromFragment();
    $("sign-in-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var token = $("token").value.trim();
      if (!token) return;
      setToken(token);
      $("token").value = "";
      setState("Loading…", "");
      load();
    });
    $("sign-out").addEventListener("click", function () {
      showSignIn("Signed out. Paste an admin token to see the overview again.");
    });
    window.addEventListener("hashchange", function () {
      tokenFromFragment();
      load();
    });
    load();
  });
})();
