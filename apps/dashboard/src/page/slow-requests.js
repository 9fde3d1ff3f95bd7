// The live page's slowest recent requests: from the traces the dashboard keeps
// (/dashboard/trace-data, full view only), each a link to its waterfall. In the
// public view the data is refused and the section stays hidden.
(function () {
  'use strict';
  const REFRESH_MS = 5000;
  const section = document.getElementById('slow-section');
  const body = document.querySelector('#slow-requests tbody');
  const cell = (text, cls) => {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = String(text);
    return td;
  };
  async function refresh() {
    let again = true;
    try {
      const res = await fetch('/dashboard/trace-data?limit=200', {
        cache: 'no-store',
        signal: AbortSignal.timeout(5000),
      });
      // the public view: no traces, no section, and nothing to ask again
      if (res.status === 403) return void (again = false);
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const { traces } = await res.json();
      const slowest = traces.sort((a, b) => b.durationMs - a.durationMs).slice(0, 8);
      body.replaceChildren(
        ...slowest.map((t) => {
          const tr = document.createElement('tr');
          const link = document.createElement('a');
          link.href = '/dashboard/traces?id=' + t.traceId;
          link.textContent = t.root.service + ' · ' + t.root.name;
          const request = document.createElement('td');
          request.append(link);
          tr.append(
            cell(t.durationMs.toFixed(1) + ' ms', 'num'),
            request,
            cell(t.services.join(', ')),
            cell([...t.notable, ...(t.error ? ['error'] : [])].join(', ')),
            cell(new Date(t.startedAt).toLocaleTimeString()),
          );
          return tr;
        }),
      );
      section.hidden = false;
    } catch {
      // the dashboard restarting: the next round tries again
    } finally {
      if (again) setTimeout(refresh, REFRESH_MS);
    }
  }
  void refresh();
})();
