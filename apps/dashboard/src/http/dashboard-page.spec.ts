/**
 * The page's own script, run in a bare VM context with a stand-in `document`
 * (no browser): what `render(snapshot)` writes into the sections. The browser
 * path is covered by dashboard.e2e-spec.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { publicSnapshot } from '../topology/public-view';
import { emptySnapshot, TopologySnapshot } from '../topology/snapshot';
import { fullSnapshot } from '../topology/snapshot.fixture';

function loadPage() {
  const html = fs.readFileSync(path.join(__dirname, '..', 'page', 'dashboard.html'), 'utf8');
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] as string;
  const elements = new Map<string, { innerHTML: string; textContent: string; className: string }>();
  const document = {
    getElementById: (id: string) => {
      if (!elements.has(id)) elements.set(id, { innerHTML: '', textContent: '', className: '' });
      return elements.get(id);
    },
    querySelectorAll: () => [],
  };
  class EventSource {
    readonly listeners: string[] = [];
    addEventListener(name: string) {
      this.listeners.push(name);
    }
  }
  const context = vm.createContext({ document, EventSource, setInterval: () => 0 });
  vm.runInContext(script, context);
  return {
    render: (s: TopologySnapshot) =>
      (context as { render: (s: TopologySnapshot) => void }).render(s),
    html: (id: string) => elements.get(id)?.innerHTML ?? '',
    text: (id: string) => elements.get(id)?.textContent ?? '',
    all: () => [...elements.values()].map((e) => e.innerHTML + e.textContent).join('\n'),
  };
}

const snapshot = (concerns: TopologySnapshot['mariadb']['concerns']): TopologySnapshot => {
  const s = emptySnapshot('2026-11-25T20:00:00.000Z');
  const node = (name: string, role: 'primary' | 'replica' | 'fenced') => ({
    name,
    host: '127.0.0.1',
    port: 3400 + Number(name.slice(-1)),
    role,
    reachable: true,
  });
  s.mariadb = {
    epoch: 8,
    primary: 'mariadb-2',
    nodes: [
      node('mariadb-1', 'fenced'),
      node('mariadb-2', 'primary'),
      node('mariadb-3', 'replica'),
    ],
    concerns,
  };
  return s;
};

describe('dashboard page: MariaDB concerns', () => {
  it('shows errant GTIDs on the node they are on, with what to do', () => {
    const page = loadPage();
    page.render(
      snapshot([
        {
          kind: 'errant-gtids',
          node: 'mariadb-1',
          primary: 'mariadb-2',
          gtids: ['0-1-101', '0-1-102'],
          since: '2026-11-25T20:00:00.000Z',
          text: 'mariadb-1 is fenced and holds 0-1-101,0-1-102 that mariadb-2 lacks: <restart>',
        },
      ]),
    );
    const html = page.html('mariadb');
    expect(html).toContain('<tr data-node="mariadb-1" class="has-concern">');
    const row =
      /<tr class="concern" data-concern="errant-gtids" data-concern-node="mariadb-1">.*?<\/tr>/s.exec(
        html,
      )?.[0];
    expect(row).toContain('<span class="badge down">errant GTIDs</span>');
    expect(row).toContain(
      '0-1-101,0-1-102</span> (not on mariadb-2), to be rebuilt from the primary (never merged)',
    );
    expect(row).toContain('&lt;restart&gt;'); // the agent's text, escaped
    expect(html.match(/data-concern=/g)).toHaveLength(1);
  });

  it('shows a concern about no node in particular above the table, and nothing when there is none', () => {
    const page = loadPage();
    page.render(
      snapshot([
        {
          kind: 'discovery',
          since: '2026-11-25T20:00:00.000Z',
          text: 'no topology published and 2 writable non-replicating node(s)',
        },
      ]),
    );
    expect(page.html('mariadb')).toMatch(
      /<div class="sub" data-concern="discovery" data-concern-node="">.*no topology published and 2 writable/,
    );
    page.render(snapshot([]));
    expect(page.html('mariadb')).not.toContain('concern');
    page.render(snapshot(undefined)); // a snapshot from an older dashboard
    expect(page.html('mariadb')).toContain('<tr data-node="mariadb-1">');
  });
});

describe('dashboard page: the public view', () => {
  it('renders every section without an address, a version or "undefined"', () => {
    const page = loadPage();
    page.render(publicSnapshot(fullSnapshot()));
    const all = page.all();
    expect(all).not.toContain('undefined');
    expect(all).not.toContain('NaN');
    expect(all).not.toMatch(/10\.89\.51|:3306|:6379|:2379|:3000|1\.4\.2|http:\/\//);
    // what teaches stays
    expect(page.html('instances')).toContain('<tr data-instance="payment-1" data-health="down">');
    expect(page.html('mariadb')).toContain('<tr data-node="mariadb-2">');
    expect(page.html('agents')).toContain('<tr data-agent="failover-agent-1">');
    expect(page.html('agents')).toContain('2140 ms');
    expect(page.text('updated')).toContain('public view');
  });

  it('renders the full view with the addresses', () => {
    const page = loadPage();
    page.render(fullSnapshot());
    expect(page.html('instances')).toContain('10.89.51.21:3000 · tcp 4000');
    expect(page.html('mariadb')).toContain('10.89.51.12:3306');
    expect(page.text('updated')).not.toContain('public view');
  });
});

describe('dashboard page: request rates', () => {
  const instance = (
    service: string,
    id: string,
    rates: { requestsPerS?: number; errorsPerS?: number },
  ) => ({
    service,
    id,
    startedAt: '2026-11-25T19:00:00.000Z',
    health: 'up' as const,
    inFlight: 1,
    ...rates,
  });

  it('shows req/s and 5xx/s per instance, a total per service and one for the system', () => {
    const page = loadPage();
    const s = emptySnapshot('2026-11-25T20:00:00.000Z');
    s.instances = [
      instance('payment', 'payment-1', {}), // an older build, or not polled twice yet
      instance('reservation', 'reservation-1', { requestsPerS: 24.5, errorsPerS: 0 }),
      instance('reservation', 'reservation-2', { requestsPerS: 26.3, errorsPerS: 1.2 }),
    ];
    page.render(s);
    const html = page.html('instances');
    const row = (selector: string) =>
      new RegExp(`<tr ${selector}[^>]*>.*?</tr>`, 's').exec(html)?.[0] ?? '';
    expect(row('data-instance="reservation-1"')).toContain(
      '<td class="num" data-rate="24.5">25</td><td class="num" data-errors="0">0.0</td>',
    );
    expect(row('data-instance="reservation-2"')).toContain(
      '<td class="num" data-errors="1.2"><span class="badge down">1.2</span></td>',
    );
    expect(row('data-instance="payment-1"')).toContain(
      '<td class="num" data-rate="">–</td><td class="num" data-errors="">–</td>',
    );
    // one total per service, after its instances
    expect(html.match(/data-service-total=/g)).toHaveLength(2);
    expect(row('class="total" data-service-total="reservation"')).toContain(
      '<td class="num">2</td><td class="num" data-rate="50.8">51</td>',
    );
    expect(row('class="total" data-service-total="payment"')).toContain('data-rate="">–</td>');
    expect(html.indexOf('data-instance="reservation-2"')).toBeLessThan(
      html.indexOf('data-service-total="reservation"'),
    );
    expect(page.html('summary')).toContain(
      '<div class="label">requests / s</div><div class="value ">51</div>',
    );
    expect(page.all()).not.toMatch(/undefined|NaN/);
  });
});
