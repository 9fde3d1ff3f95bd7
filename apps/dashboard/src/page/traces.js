// The traces page: the recent traces (a list that refreshes) and one trace's
// waterfall (?id=<trace id>). Data from /dashboard/trace-data on the same
// origin; every text goes in through textContent, never as HTML.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  };
  const ms = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms';

  async function getJson(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || res.status + ' ' + res.statusText);
    return body;
  }

  // ---- the list -------------------------------------------------------------
  let timer;
  async function refreshList() {
    const form = $('filters');
    const q = new URLSearchParams({ limit: '100' });
    if (form.minDurationMs.value) q.set('minDurationMs', form.minDurationMs.value);
    if (form.service.value.trim()) q.set('service', form.service.value.trim());
    if (form.error.checked) q.set('error', 'true');
    try {
      const { traces, stored } = await getJson('/dashboard/trace-data?' + q);
      $('stored').textContent = stored + ' traces kept';
      const body = $('traces').querySelector('tbody');
      body.replaceChildren(
        ...traces.map((t) => {
          const tr = el('tr', t.error ? 'error' : '');
          tr.dataset.traceId = t.traceId;
          const link = el('a', '', t.root.service + ' · ' + t.root.name);
          link.href = '/dashboard/traces?id=' + t.traceId;
          const request = el('td');
          request.append(link);
          const notable = el('td');
          for (const n of t.notable) notable.append(el('span', 'tag', n));
          if (t.error) notable.append(el('span', 'tag', 'error'));
          tr.append(
            el('td', '', new Date(t.startedAt).toLocaleTimeString()),
            request,
            el('td', '', t.services.join(', ')),
            el('td', 'num', ms(t.durationMs)),
            el('td', 'num', t.spanCount),
            notable,
          );
          return tr;
        }),
      );
      $('list-message').textContent = traces.length
        ? ''
        : 'No trace yet: send a request through the gateway (curl -i localhost:8080/api/listings).';
    } catch (err) {
      $('list-message').textContent = 'Traces unavailable: ' + err.message;
    }
  }

  // ---- one trace --------------------------------------------------------------
  function depthOf(spans) {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const depth = new Map();
    const d = (s) => {
      if (depth.has(s.spanId)) return depth.get(s.spanId);
      const parent = s.parentSpanId && byId.get(s.parentSpanId);
      depth.set(s.spanId, 0); // a cycle ends here
      const v = parent ? d(parent) + 1 : 0;
      depth.set(s.spanId, v);
      return v;
    };
    spans.forEach(d);
    return depth;
  }

  function details(span) {
    const box = el('div', 'details');
    const dl = el('dl');
    const add = (k, v) =>
      dl.append(el('dt', '', k), el('dd', '', Array.isArray(v) ? v.join(', ') : v));
    add('service', span.service + (span.instance ? ' (' + span.instance + ')' : ''));
    add('kind', span.kind);
    add('status', span.status + (span.statusMessage ? ': ' + span.statusMessage : ''));
    add('span id', span.spanId);
    for (const [k, v] of Object.entries(span.attributes)) add(k, v);
    box.append(dl);
    if (span.events.length) {
      box.append(el('h4', '', 'events'));
      for (const e of span.events) {
        const ev = el('dl');
        ev.append(el('dt', '', '+' + ms(e.timeMs - span.startMs)), el('dd', '', e.name));
        for (const [k, v] of Object.entries(e.attributes))
          ev.append(el('dt', '', k), el('dd', '', Array.isArray(v) ? v.join(', ') : v));
        box.append(ev);
      }
    }
    return box;
  }

  async function showTrace(id) {
    $('list-view').hidden = true;
    $('trace-view').hidden = false;
    $('trace-title').textContent = 'trace ' + id;
    try {
      const { spans } = await getJson('/dashboard/trace-data/' + encodeURIComponent(id));
      const start = Math.min(...spans.map((s) => s.startMs));
      const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
      const total = Math.max(end - start, 0.001);
      const services = [...new Set(spans.map((s) => s.service))];
      $('trace-summary').textContent =
        ms(total) + ' · ' + spans.length + ' spans · ' + services.join(' → ');
      const depth = depthOf(spans);
      const pct = (v) => ((v - start) / total) * 100 + '%';
      const rows = spans.map((s) => {
        const row = el('div', 'row');
        row.setAttribute('role', 'treeitem');
        row.dataset.spanId = s.spanId;
        row.dataset.name = s.name;
        const label = el('div', 'label');
        label.style.paddingLeft = 0.4 + depth.get(s.spanId) * 1.1 + 'rem';
        label.append(el('span', 'svc', s.service), document.createTextNode(s.name));
        label.title = s.name;
        const lane = el('div', 'lane');
        const isDb =
          typeof s.attributes['db.system'] === 'string' || s.attributes['db.system.name'];
        const bar = el('div', 'bar ' + (s.status === 'error' ? 'error' : isDb ? 'db' : s.kind));
        bar.style.left = pct(s.startMs);
        bar.style.width = (s.durationMs / total) * 100 + '%';
        lane.append(bar);
        for (const e of s.events) {
          const mark = el('div', 'mark');
          mark.style.left = pct(e.timeMs);
          mark.title = e.name;
          mark.dataset.event = e.name;
          lane.append(mark);
        }
        const dur = el('span', 'dur', ms(s.durationMs));
        dur.style.left = 'min(calc(' + pct(s.startMs + s.durationMs) + ' + 4px), calc(100% - 5em))';
        lane.append(dur);
        row.append(label, lane);
        row.addEventListener('click', () => {
          const open = row.querySelector('.details');
          if (open) open.remove();
          else row.append(details(s));
        });
        return row;
      });
      $('waterfall').replaceChildren(...rows);
      $('trace-message').textContent = 'Click a span for its attributes and events.';
    } catch (err) {
      $('trace-message').textContent = err.message;
    }
  }

  const id = new URLSearchParams(location.search).get('id');
  if (id) {
    void showTrace(id);
  } else {
    $('filters').addEventListener('input', () => void refreshList());
    void refreshList();
    timer = setInterval(() => void refreshList(), 3000);
    window.addEventListener('pagehide', () => clearInterval(timer));
  }
})();
