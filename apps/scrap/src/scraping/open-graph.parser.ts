import { Parser } from 'htmlparser2';

/** The OpenGraph fields a scrap keeps (https://ogp.me). */
export interface OpenGraph {
  title?: string;
  description?: string;
  image?: string;
  url?: string;
  type?: string;
  siteName?: string;
}

const FIELDS: Record<string, keyof OpenGraph> = {
  'og:title': 'title',
  'og:description': 'description',
  'og:image': 'image',
  'og:image:url': 'image',
  'og:url': 'url',
  'og:type': 'type',
  'og:site_name': 'siteName',
};

/**
 * Reads OpenGraph meta tags, falling back to `<title>` and the description meta
 * tag. Relative image and page URLs are resolved against the page's URL.
 */
export function parseOpenGraph(html: string, pageUrl: string): OpenGraph {
  const og: OpenGraph = {};
  let fallbackTitle = '';
  let fallbackDescription: string | undefined;
  let inTitle = false;
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (name === 'title') inTitle = true;
        if (name !== 'meta') return;
        const key = (attrs.property ?? attrs.name ?? '').toLowerCase();
        const content = attrs.content?.trim();
        if (!content) return;
        const field = FIELDS[key];
        if (field && og[field] === undefined) og[field] = content;
        if (key === 'description') fallbackDescription ??= content;
      },
      ontext(text) {
        if (inTitle) fallbackTitle += text;
      },
      onclosetag(name) {
        if (name === 'title') inTitle = false;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  og.title ??= fallbackTitle.trim() || undefined;
  og.description ??= fallbackDescription;
  for (const key of ['image', 'url'] as const) {
    const v = og[key];
    if (v) {
      try {
        const abs = new URL(v, pageUrl);
        og[key] =
          abs.protocol === 'http:' || abs.protocol === 'https:' ? abs.toString() : undefined;
      } catch {
        og[key] = undefined;
      }
    }
  }
  og.url ??= pageUrl;
  return Object.fromEntries(Object.entries(og).filter(([, v]) => v !== undefined)) as OpenGraph;
}
