// The live page's charts (docs/dashboard.md, "Charts from Prometheus"): GET /dashboard/charts every
// REFRESH_MS, drawn with uPlot (served from node_modules as /dashboard/assets/uplot.js).
// Failovers and switchovers are vertical lines on every chart's time axis. Loaded by
// dashboard.html after uPlot; the topology script beside it does not depend on this one.
(function () {
  'use strict';
  const REFRESH_MS = 5000;
  const HEIGHT = 190;
  const PALETTE = [
    '#2b6cb0',
    '#dd6b20',
    '#2f855a',
    '#805ad5',
    '#d53f8c',
    '#319795',
    '#b7791f',
    '#4a5568',
    '#e53e3e',
    '#3182ce',
  ];
  const MARKER = { failover: '#c53030', switchover: '#805ad5' };
  const BREAKER = ['closed', 'half-open', 'open'];
  const $ = (id) => document.getElementById(id);
  const esc = (v) =>
    String(v ?? '').replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
    );

  // one colour per series name, the same across refreshes and charts
  function colorOf(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }

  function format(unit, v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    switch (unit) {
      case 'breaker':
        return BREAKER[Math.round(v)] ?? String(v);
      case 's':
        return v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms` : `${v.toFixed(2)} s`;
      case 'ms':
        return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`;
      case 'req/s':
        return v < 10 ? v.toFixed(v < 1 && v > 0 ? 2 : 1) : String(Math.round(v));
      default:
        return String(v);
    }
  }

  const markers = { list: [] };

  // vertical lines where an agent completed a failover or switchover, with its kind
  const markerPlugin = {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          const { left, top, width, height } = u.bbox;
          const dpr = window.devicePixelRatio || 1;
          ctx.save();
          ctx.font = `${11 * dpr}px system-ui, sans-serif`;
          ctx.textBaseline = 'top';
          for (const m of markers.list) {
            const x = Math.round(u.valToPos(m.at, 'x', true));
            if (x < left || x > left + width) continue;
            const color = MARKER[m.kind] || '#c53030';
            ctx.strokeStyle = color;
            ctx.fillStyle = color;
            ctx.lineWidth = 1.5 * dpr;
            ctx.setLineDash([5 * dpr, 3 * dpr]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.fillText(m.kind, x + 4 * dpr, top + 2 * dpr);
          }
          ctx.restore();
        },
      ],
    },
  };

  const plots = new Map(); // chart id -> { plot, key }
  window.staylineCharts = plots;

  function options(chart, width) {
    const breaker = chart.unit === 'breaker';
    return {
      width,
      height: HEIGHT,
      plugins: [markerPlugin],
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: breaker
          ? { range: [-0.15, 2.15] }
          : { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          stroke: '#6b7383',
          grid: { stroke: '#eef0f4' },
          space: 70,
          // the time of day only (the page is about now), 24 h; seconds when ticks are under a minute apart
          values: (u, splits) =>
            splits.map((v) => {
              const d = new Date(v * 1000);
              const two = (n) => String(n).padStart(2, '0');
              const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
              return splits[1] - splits[0] < 60 ? `${hm}:${two(d.getSeconds())}` : hm;
            }),
        },
        {
          stroke: '#6b7383',
          grid: { stroke: '#eef0f4' },
          size: breaker ? 70 : 60,
          ...(breaker ? { splits: () => [0, 1, 2] } : {}),
          values: (u, splits) => splits.map((v) => format(chart.unit, v)),
        },
      ],
      series: [
        { value: (u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleTimeString()) },
        ...chart.series.map((s) => ({
          label: s.name,
          stroke: colorOf(s.name),
          width: 1.5,
          value: (u, v) => format(chart.unit, v),
          ...(breaker ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
        })),
      ],
    };
  }

  function chartBox(chart) {
    let box = document.querySelector(`.chart[data-chart="${chart.id}"]`);
    if (!box) {
      box = document.createElement('div');
      box.className = 'chart';
      box.dataset.chart = chart.id;
      box.innerHTML =
        '<h3></h3><div class="note"></div><div class="states"></div><div class="plot"></div>';
      $('charts').appendChild(box);
    }
    const h3 = box.querySelector('h3');
    h3.textContent = chart.title;
    h3.title = chart.query;
    return box;
  }

  function renderChart(answer, chart) {
    const box = chartBox(chart);
    const note = box.querySelector('.note');
    const target = box.querySelector('.plot');
    const nonZero = chart.series.filter((s) => s.values.some((v) => v !== null && v > 0));
    box.dataset.series = chart.series.map((s) => s.name).join(',');
    box.dataset.nonzero = nonZero.map((s) => s.name).join(',');
    note.textContent = chart.error
      ? `Prometheus could not run this query: ${chart.error}`
      : chart.series.length
        ? chart.truncated
          ? `the first ${chart.series.length} series by name`
          : ''
        : 'no data in this range';
    note.className = `note${chart.error ? ' failed' : ''}`;
    // breakers: each caller → dependency's latest state in words, beside the stepped lines
    box.querySelector('.states').innerHTML =
      chart.unit === 'breaker'
        ? chart.series
            .map((s) => {
              const last = [...s.values].reverse().find((v) => v !== null);
              const state = last === undefined ? 'unknown' : format('breaker', last);
              return `<span class="state ${esc(state)}" data-series="${esc(s.name)}" data-state="${esc(state)}">${esc(s.name)}: <b>${esc(state)}</b></span>`;
            })
            .join('')
        : '';
    const key = chart.series.map((s) => s.name).join('\n');
    const data = [answer.times, ...chart.series.map((s) => s.values)];
    const known = plots.get(chart.id);
    if (known && known.key === key) {
      known.plot.setData(data);
      return;
    }
    if (known) known.plot.destroy();
    target.textContent = '';
    const width = Math.max(300, target.clientWidth || box.clientWidth || 400);
    plots.set(chart.id, { key, plot: new uPlot(options(chart, width), data, target) });
  }

  function renderMarkers(answer) {
    markers.list = answer.markers || [];
    $('charts-markers').innerHTML = markers.list.length
      ? `failovers in this range: ${markers.list
          .map(
            (m) =>
              `<span class="marker ${esc(m.kind)}" data-marker="${esc(m.kind)}" data-at="${esc(m.at)}">` +
              `${esc(m.kind)} at ${esc(new Date(m.at * 1000).toLocaleTimeString())}` +
              ` <small>(${esc(m.agent)})</small></span>`,
          )
          .join(' ')}`
      : '';
  }

  function setStatus(kind, text) {
    const el = $('charts-status');
    el.dataset.status = kind;
    el.className = `charts-status ${kind}`;
    el.textContent = text;
  }

  function clearCharts() {
    for (const { plot } of plots.values()) plot.destroy();
    plots.clear();
    $('charts').textContent = '';
    markers.list = [];
    $('charts-markers').textContent = '';
  }

  function render(answer) {
    const p = answer.prometheus;
    if (p.status === 'unreachable') {
      clearCharts();
      setStatus('unreachable', `Prometheus unreachable (${p.error}${p.url ? ` at ${p.url}` : ''})`);
      return;
    }
    if (p.status === 'not-configured') {
      clearCharts();
      setStatus('not-configured', 'Prometheus not configured (PROMETHEUS_URL is empty): no charts');
      return;
    }
    setStatus(
      'up',
      `${p.url ? `${p.url} · ` : ''}last ${answer.range}, a point every ${answer.stepS} s, ` +
        `rates over ${answer.rateWindowS} s · ${new Date(answer.at).toLocaleTimeString()}`,
    );
    renderMarkers(answer);
    // every box first, so each plot is sized to its own column, not to an empty grid
    for (const chart of answer.charts) chartBox(chart);
    for (const chart of answer.charts) renderChart(answer, chart);
  }

  let timer;
  let inFlight = false;
  async function refresh() {
    clearTimeout(timer);
    if (inFlight) return;
    inFlight = true;
    try {
      const res = await fetch(
        `/dashboard/charts?range=${encodeURIComponent($('charts-range').value)}`,
        {
          cache: 'no-store',
          signal: AbortSignal.timeout(10000),
        },
      );
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
    } catch (err) {
      clearCharts();
      setStatus('error', `charts unavailable: the dashboard did not answer (${err.message})`);
    } finally {
      inFlight = false;
      timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  $('charts-range').addEventListener('change', () => {
    clearCharts();
    void refresh();
  });
  // uPlot draws at a fixed size: follow the columns when the page is resized
  new ResizeObserver(() => {
    for (const [id, { plot }] of plots) {
      const target = document.querySelector(`.chart[data-chart="${id}"] .plot`);
      const width = target ? Math.max(300, target.clientWidth) : 0;
      if (width && width !== plot.width) plot.setSize({ width, height: HEIGHT });
    }
  }).observe($('charts'));
  void refresh();
})();
