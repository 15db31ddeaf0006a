// The page's tables: each tab's rows come from the JSON in #plan-data (embedded once), are filtered, sorted
// and shown a page at a time, so the DOM holds at most one page of rows however many changes the plan has.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("plan-data").textContent);
  var MAX_TEXT = 400; // longer values are cut in the table (the full value is in the cell's title)

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (attrs[k] == null) continue;
        if (k === "text") e.textContent = attrs[k];
        else if (k === "class") e.className = attrs[k];
        else e.setAttribute(k, attrs[k]);
      }
    }
    (kids || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function cut(s) { return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + "…" : s; }

  // value renders one side of a before → after pair; the part that differs from the other side is marked.
  function value(cls, v, other) {
    if (v == null) return el("span", { "class": cls + " null", text: "empty" });
    var s = String(v), span = el("span", { "class": cls, title: s.length > MAX_TEXT ? s : null });
    if (other == null || s.length > MAX_TEXT || String(other).length > MAX_TEXT) { span.textContent = cut(s); return span; }
    var o = String(other), p = 0, q = 0;
    while (p < s.length && p < o.length && s[p] === o[p]) p++;
    while (q < s.length - p && q < o.length - p && s[s.length - 1 - q] === o[o.length - 1 - q]) q++;
    span.appendChild(document.createTextNode(s.slice(0, p)));
    var mid = s.slice(p, s.length - q);
    if (mid) span.appendChild(el("mark", { text: mid }));
    span.appendChild(document.createTextNode(s.slice(s.length - q)));
    return span;
  }

  // diff renders field changes [[field index, before, after]...]; create has no before (null) and shows After only.
  function diff(fields, action, hitField) {
    var ul = el("ul", { "class": "diff" });
    fields.forEach(function (f) {
      var li = el("li", { "class": f[0] === hitField ? "hit" : null, "data-field": D.fields[f[0]] });
      li.appendChild(el("span", { "class": "f", text: D.fields[f[0]] + ": " }));
      if (action !== "create") {
        li.appendChild(value("before", f[1], f[2]));
        li.appendChild(el("span", { "class": "arrow", text: "→" }));
      }
      li.appendChild(value("after", f[2], action === "create" ? null : f[1]));
      ul.appendChild(li);
    });
    return ul;
  }

  function cmp(a, b) {
    if (a === b) return 0;
    if (a == null) return 1;
    if (b == null) return -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    var na = Number(a), nb = Number(b);
    if (a !== "" && b !== "" && !isNaN(na) && !isNaN(nb)) return na - nb;
    return String(a).localeCompare(String(b), "en", { numeric: true });
  }

  // Table shows rows (any objects) through a filter, a sort and paging.
  // o: {panel, id, cols: [{label, sort(row) -> key, cell(row, view) -> Node|string, cls}], rows, hay(row) -> string,
  //     extra: [control nodes], filter(row) -> bool, rowAttrs(row) -> attrs, noun}
  function Table(o) {
    var t = this;
    t.o = o; t.page = 0; t.size = 100; t.sortCol = -1; t.desc = false; t.query = ""; t.hays = null;
    var search = el("input", { type: "search", id: o.id + "-search", placeholder: "Search " + o.noun + "…", "aria-label": "Search " + o.noun });
    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { t.query = search.value.trim().toLowerCase(); t.refresh(); }, 120);
    });
    search.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { clearTimeout(timer); t.query = search.value.trim().toLowerCase(); t.refresh(); }
    });
    var size = el("select", { id: o.id + "-size", "aria-label": "Rows per page" });
    [50, 100, 500].forEach(function (n) { size.appendChild(el("option", { value: String(n), selected: n === 100 ? "" : null, text: n + " per page" })); });
    size.addEventListener("change", function () { t.size = +size.value; t.page = 0; t.draw(); });
    t.shown = el("span", { "class": "shown", id: o.id + "-shown", "aria-live": "polite" });
    var controls = el("div", { "class": "controls" }, [search].concat(o.extra || []).concat([size, t.shown]));
    var head = el("tr");
    t.ths = o.cols.map(function (c, i) {
      var th = el("th", { "class": (c.sort ? "sortable " : "") + (c.cls || ""), scope: "col", text: c.label });
      if (c.sort) {
        th.tabIndex = 0;
        var go = function () {
          if (t.sortCol === i) t.desc = !t.desc; else { t.sortCol = i; t.desc = false; }
          t.refresh();
        };
        th.addEventListener("click", go);
        th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
      }
      head.appendChild(th);
      return th;
    });
    t.body = el("tbody");
    t.table = el("table", { id: o.id + "-table", "class": "rows" }, [el("thead", null, [head]), t.body]);
    t.prev = el("button", { type: "button", text: "‹ Previous" });
    t.next = el("button", { type: "button", text: "Next ›" });
    t.where = el("span", { "class": "dim" });
    t.prev.addEventListener("click", function () { t.page--; t.draw(); });
    t.next.addEventListener("click", function () { t.page++; t.draw(); });
    var pager = el("div", { "class": "pager" }, [t.prev, t.next, t.where]);
    o.panel.appendChild(controls);
    o.panel.appendChild(t.table);
    o.panel.appendChild(pager);
    t.refresh();
  }
  Table.prototype.hay = function (i) {
    if (!this.hays) this.hays = new Array(this.o.rows.length);
    var h = this.hays[i];
    if (h === undefined) h = this.hays[i] = this.o.hay(this.o.rows[i]).toLowerCase();
    return h;
  };
  // refresh recomputes the matching rows and their order, then shows the first page.
  Table.prototype.refresh = function () {
    var started = performance.now();
    var o = this.o, rows = o.rows, q = this.query, m = [];
    for (var i = 0; i < rows.length; i++) {
      if (o.filter && !o.filter(rows[i])) continue;
      if (q && this.hay(i).indexOf(q) < 0) continue;
      m.push(i);
    }
    if (this.sortCol >= 0) {
      var key = o.cols[this.sortCol].sort, keys = new Array(rows.length), dir = this.desc ? -1 : 1;
      m.forEach(function (i) { keys[i] = key(rows[i]); });
      m.sort(function (a, b) { return dir * cmp(keys[a], keys[b]) || a - b; });
    }
    var t = this;
    this.ths.forEach(function (th, i) {
      if (i === t.sortCol) th.setAttribute("aria-sort", t.desc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
    this.matches = m;
    this.page = 0;
    this.draw();
    this.ms = performance.now() - started; // how long the last filter or sort took (shown to tests, not people)
  };
  // draw shows the current page of the matching rows: the DOM holds one page, never all rows.
  Table.prototype.draw = function () {
    var m = this.matches, pages = Math.max(1, Math.ceil(m.length / this.size));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    var from = this.page * this.size, to = Math.min(m.length, from + this.size), o = this.o;
    var frag = document.createDocumentFragment();
    for (var k = from; k < to; k++) {
      var row = o.rows[m[k]], tr = el("tr", o.rowAttrs ? o.rowAttrs(row) : null);
      o.cols.forEach(function (c) {
        var v = c.cell(row), td = el("td", { "class": c.cls || null });
        if (v != null) td.appendChild(typeof v === "string" ? document.createTextNode(v) : v);
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    }
    this.body.textContent = "";
    this.body.appendChild(frag);
    var total = o.rows.length;
    this.shown.textContent = m.length === 0 ? "No " + o.noun + " match." :
      "Showing " + fmt(from + 1) + "–" + fmt(to) + " of " + fmt(m.length) + (m.length < total ? " (filtered from " + fmt(total) + ")" : "");
    this.shown.setAttribute("data-matches", String(m.length));
    this.table.setAttribute("data-matches", String(m.length));
    this.where.textContent = "Page " + fmt(this.page + 1) + " of " + fmt(pages);
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
  };

  function select(id, label, options, onchange) {
    var s = el("select", { id: id, "aria-label": label });
    options.forEach(function (op) { s.appendChild(el("option", { value: op[0], text: op[1] })); });
    s.addEventListener("change", function () { onchange(s.value); });
    return el("label", null, [label + " ", s]);
  }

  var tables = {};

  function changesTable(panel) {
    // A change: [action index, key, fields, annotations, status, reason]; row objects keep their original index.
    var rows = D.changes.map(function (c, i) { return { i: i, c: c }; });
    var state = { action: -1, field: -1, status: "" };
    var counts = D.actions.map(function () { return 0; });
    var fieldCounts = D.fields.map(function () { return 0; });
    D.changes.forEach(function (c) {
      counts[c[0]]++;
      c[2].forEach(function (f) { fieldCounts[f[0]]++; });
    });
    var t;
    var actionOpts = [["", "all actions"]].concat(D.actions.map(function (a, i) { return [String(i), a + " (" + fmt(counts[i]) + ")"]; }));
    var fieldOpts = [["", "any field"]];
    D.fields.forEach(function (f, i) { if (fieldCounts[i]) fieldOpts.push([String(i), f + " (" + fmt(fieldCounts[i]) + ")"]); });
    var extra = [
      select("changes-action", "Action", actionOpts, function (v) { state.action = v === "" ? -1 : +v; t.refresh(); }),
      select("changes-field", "Field", fieldOpts, function (v) { state.field = v === "" ? -1 : +v; t.refresh(); })
    ];
    if (D.outcome) {
      var st = { applied: 0, failed: 0, "not known": 0 };
      D.changes.forEach(function (c) { st[c[4]] = (st[c[4]] || 0) + 1; });
      extra.push(select("changes-status", "Status", [["", "any status"], ["applied", "applied (" + fmt(st.applied) + ")"],
        ["failed", "failed (" + fmt(st.failed) + ")"], ["not known", "not known (" + fmt(st["not known"]) + ")"]],
        function (v) { state.status = v; t.refresh(); }));
    }
    var fieldOf = function (c) {
      for (var j = 0; j < c[2].length; j++) if (c[2][j][0] === state.field) return c[2][j];
      return null;
    };
    var cols = [
      { label: "#", cls: "r dim", sort: function (r) { return r.i; }, cell: function (r) { return String(r.i + 1); } },
      { label: "Action", sort: function (r) { return r.c[0]; }, cell: function (r) { return el("span", { "class": "badge " + D.actions[r.c[0]], text: D.actions[r.c[0]] }); } },
      { label: "Record", cls: "key", sort: function (r) { return r.c[1]; }, cell: function (r) { return r.c[1]; } },
      {
        label: "Before → after",
        // Sorted by the chosen field's new value, or else by how many fields change.
        sort: function (r) { if (state.field >= 0) { var f = fieldOf(r.c); return f ? f[2] : null; } return r.c[2].length; },
        cell: function (r) {
          var c = r.c, box = el("div", null, [c[2].length ? diff(c[2], D.actions[c[0]], state.field) : el("span", { "class": "dim", text: D.actions[c[0]] === "delete" ? "removed from the store" : "" })]);
          if (c[3]) box.appendChild(el("div", { "class": "note", text: c[3] }));
          return box;
        }
      }
    ];
    if (D.outcome) {
      cols.push({
        label: "Status", sort: function (r) { return r.c[4]; }, cell: function (r) {
          return el("div", null, [el("span", { "class": "status-" + r.c[4], text: r.c[4] }), r.c[5] ? el("div", { "class": "reason", text: r.c[5] }) : null]);
        }
      });
    }
    t = new Table({
      panel: panel, id: "changes", noun: "changes", rows: rows, cols: cols, extra: extra,
      filter: function (r) {
        var c = r.c;
        if (state.action >= 0 && c[0] !== state.action) return false;
        if (state.status && c[4] !== state.status) return false;
        if (state.field >= 0 && !fieldOf(c)) return false;
        return true;
      },
      hay: function (r) {
        var c = r.c, s = D.actions[c[0]] + " " + c[1];
        c[2].forEach(function (f) { s += " " + D.fields[f[0]] + " " + (f[1] == null ? "" : f[1]) + " " + (f[2] == null ? "" : f[2]); });
        return s + " " + (c[3] || "") + " " + (c[5] || "");
      },
      rowAttrs: function (r) { return { "data-action": D.actions[r.c[0]], "data-status": r.c[4] || null }; }
    });
    return t;
  }

  function listTable(panel, id, l) {
    var cols = l.cols.map(function (name, j) {
      var kind = l.kinds[j];
      return {
        label: name, cls: j === 0 && kind === "text" ? "key" : null,
        sort: function (r) { return kind === "diff" ? r[j].length : r[j]; },
        cell: function (r) { return kind === "diff" ? diff(r[j], "update", -1) : (r[j] == null ? "" : String(r[j])); }
      };
    });
    return new Table({
      panel: panel, id: id, noun: panel.getAttribute("data-noun") || "rows", rows: l.rows, cols: cols,
      hay: function (r) {
        return r.map(function (v) {
          return Array.isArray(v) ? v.map(function (f) { return D.fields[f[0]] + " " + f[1] + " " + f[2]; }).join(" ") : (v == null ? "" : String(v));
        }).join(" ");
      }
    });
  }

  // Tabs.
  var buttons = Array.prototype.slice.call(document.querySelectorAll("nav.tabs button"));
  function show(id) {
    buttons.forEach(function (b) {
      var on = b.getAttribute("data-tab") === id;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
      document.getElementById("panel-" + b.getAttribute("data-tab")).hidden = !on;
    });
  }
  buttons.forEach(function (b, i) {
    b.addEventListener("click", function () { show(b.getAttribute("data-tab")); });
    b.addEventListener("keydown", function (e) {
      var j = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : -1;
      if (j < 0 && e.key !== "ArrowLeft") return;
      j = (j + buttons.length) % buttons.length;
      buttons[j].focus();
      show(buttons[j].getAttribute("data-tab"));
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("section.panel"), function (panel) {
    var id = panel.getAttribute("data-tab");
    if (id === "changes") {
      if (D.changes.length) tables.changes = changesTable(panel);
      return;
    }
    var l = D.lists[id];
    if (l && l.rows.length) {
      tables[id] = listTable(panel, id, l);
    }
  });

  // Printed, a table shows all its matching rows when there are at most PRINT_ALL of them (a plan to sign),
  // else its current page (the status line says which rows).
  var PRINT_ALL = 2000;
  window.addEventListener("beforeprint", function () {
    Object.keys(tables).forEach(function (id) {
      var t = tables[id];
      t.saved = { size: t.size, page: t.page };
      if (t.matches.length > t.size && t.matches.length <= PRINT_ALL) { t.size = t.matches.length; t.page = 0; t.draw(); }
    });
  });
  window.addEventListener("afterprint", function () {
    Object.keys(tables).forEach(function (id) {
      var t = tables[id];
      if (t.saved) { t.size = t.saved.size; t.page = t.saved.page; t.saved = null; t.draw(); }
    });
  });

  // A hook for tests and scripts: the data, the tables, and a ready flag set once everything is drawn.
  window.possync = { data: D, tables: tables, show: show, ready: true, readyMs: performance.now() };
  document.body.setAttribute("data-ready", "true");
})();
