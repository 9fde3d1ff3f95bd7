import { parseOpenGraph } from './open-graph.parser';

describe('parseOpenGraph', () => {
  it('reads the OpenGraph tags and resolves relative URLs', () => {
    const html = `<html><head>
      <meta property="og:title" content="Seaside loft &amp; garden">
      <meta property="og:description" content="Two rooms by the sea">
      <meta property="og:image" content="/img/loft.jpg">
      <meta property="og:type" content="website">
      <meta property="og:site_name" content="Stays">
      <title>ignored</title></head></html>`;
    expect(parseOpenGraph(html, 'https://stays.example/l/1')).toEqual({
      title: 'Seaside loft & garden',
      description: 'Two rooms by the sea',
      image: 'https://stays.example/img/loft.jpg',
      type: 'website',
      siteName: 'Stays',
      url: 'https://stays.example/l/1',
    });
  });

  it('falls back to <title> and the description meta tag', () => {
    const html = '<title> Plain page </title><meta name="description" content="no og here">';
    expect(parseOpenGraph(html, 'http://x.test/')).toEqual({
      title: 'Plain page',
      description: 'no og here',
      url: 'http://x.test/',
    });
  });

  it('drops image URLs with a dangerous scheme', () => {
    const html = '<meta property="og:image" content="javascript:alert(1)">';
    expect(parseOpenGraph(html, 'http://x.test/').image).toBeUndefined();
  });
});
