/**
 * The headers the gateway adds to what it answers (docs/security.md, "Edge").
 * nginx drops every `add_header` of the server block in a location that has one
 * of its own: each such location states them all again ({@link edgeHeaderLines}).
 */

/** On every answer, errors included (`add_header ... always`). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // a JSON answer is never read as a script or a page, whatever its content looks like
  'X-Content-Type-Options': 'nosniff',
  // the address of a page (ids, queries) is not sent to the sites it links to
  'Referrer-Policy': 'no-referrer',
  // no page of stayline is shown inside another site's frame (clickjacking)
  'X-Frame-Options': 'DENY',
};

/**
 * The SHA-256 of the dashboard's inline `<script>` and `<style>`
 * (apps/dashboard/src/page/dashboard.html): the only inline code its policy runs.
 * A change to either block changes its hash; the gateway's spec computes them
 * from the page and names the new ones.
 */
export const DASHBOARD_INLINE_HASHES = {
  script: 'sha256-AcQmmlDH4FtOYPW+Vwcw+rWyDPuxM9nLJ9GMDLR9BGM=',
  style: 'sha256-JD6iVK/zGI+GpWjY10ui+x14NWDTO44SuA/k/nRzsiA=',
} as const;

/** Nothing a policy does not name: no plugin, no `<base>`, no form target, no framing. */
const LOCKED = ["default-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"];

/**
 * The dashboard: one page with its script and style inline (by hash, nothing
 * else inline runs), the charts' files from the same origin (uPlot and the
 * page's chart script and style, which the dashboard serves at
 * `/dashboard/assets/`), its data from `/dashboard/events` and
 * `/dashboard/charts` on the same origin.
 */
export const DASHBOARD_CSP = [
  ...LOCKED,
  `script-src 'self' '${DASHBOARD_INLINE_HASHES.script}'`,
  `style-src 'self' '${DASHBOARD_INLINE_HASHES.style}'`,
  "connect-src 'self'",
  "form-action 'none'",
].join('; ');

/**
 * Swagger UI as @nestjs/swagger serves it at `/api/docs`: its scripts are files
 * beside the page (the document is inside `swagger-ui-init.js`); its page has
 * inline `<style>` blocks and a `style` attribute, and its stylesheet draws
 * icons from `data:` images. "Try it out" calls the API on the same origin.
 */
export const API_DOCS_CSP = [
  ...LOCKED,
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
].join('; ');

/**
 * The `add_header` lines for a block: the request id, {@link SECURITY_HEADERS},
 * and the block's own headers after them. All `always`: errors carry them too.
 */
export function edgeHeaderLines(indent: string, own: Record<string, string> = {}): string[] {
  const headers: Record<string, string> = {
    // the edge's own id (the client's, if any, went upstream as X-Client-Request-Id)
    'X-Request-Id': '$request_id',
    ...SECURITY_HEADERS,
    ...own,
  };
  return Object.entries(headers).map(([name, value]) => {
    if (/["\\\r\n]/.test(value)) throw new Error(`header ${name}: a value nginx cannot quote`);
    return `${indent}add_header ${name} "${value}" always;`;
  });
}
