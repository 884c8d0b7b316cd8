import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { renderMessage, isSafeUrl, previewText } from '../src/lib/render';

/** Parses rendered HTML and lists everything that could run script. */
function dangers(html: string): string[] {
  const found: string[] = [];
  if (/<script/i.test(html)) found.push('<script in output');
  const doc = new DOMParser().parseFromString(`<div id="root">${html}</div>`, 'text/html');
  for (const el of Array.from(doc.querySelectorAll('#root *'))) {
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed', 'img', 'style', 'form', 'base', 'meta', 'link'].includes(tag)) found.push('element ' + tag);
    for (const a of Array.from(el.attributes)) {
      if (/^on/i.test(a.name)) found.push(`attribute ${a.name} on ${tag}`);
      if (/(href|src|action|formaction|xlink:href)$/i.test(a.name)) {
        const v = a.value.replace(/[\u0000-\u0020\u007f]+/g, '').toLowerCase();
        if (!/^(https?:|mailto:)/.test(v)) found.push(`${a.name}=${a.value} on ${tag}`);
      }
    }
  }
  return found;
}

describe('renderMessage', () => {
  it('renders the Markdown subset', () => {
    const h = renderMessage('**bold** and *it* and `code`');
    expect(h).toContain('<strong>bold</strong>');
    expect(h).toContain('<em>it</em>');
    expect(h).toContain('<code>code</code>');
  });

  it('renders fenced code blocks without interpreting them', () => {
    const h = renderMessage('```js\nconst a = "<b>";\n```');
    expect(h).toMatch(/<pre><code[^>]*>const a = (&quot;|")&lt;b&gt;(&quot;|");\n<\/code><\/pre>/);
  });

  it('makes links open in a new tab with noopener noreferrer', () => {
    const h = renderMessage('[docs](https://example.org/x)');
    const a = new DOMParser().parseFromString(h, 'text/html').querySelector('a')!;
    expect(a.getAttribute('href')).toBe('https://example.org/x');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer');
    expect(renderMessage('<mailto:prof@example.org>')).toContain('href="mailto:prof@example.org"');
  });

  it.each([
    '[x](javascript:alert(1))',
    '[x](JaVaScRiPt:alert(1))',
    '[x](java\tscript:alert(1))',
    '[x](data:text/html,<script>alert(1)</script>)',
    '[x](vbscript:msgbox(1))',
    '![x](javascript:alert(1))',
    '<a href="javascript:alert(1)">x</a>',
    '[x](/relative)',
  ])('drops unsafe link %s', (src) => {
    const h = renderMessage(src);
    expect(dangers(h)).toEqual([]);
    expect(h).not.toMatch(/<a [^>]*href="(?!https?:|mailto:)/i);
  });

  it('shows raw HTML as text', () => {
    const h = renderMessage('<script>alert(1)</script> <img src=x onerror=alert(1)>');
    expect(h).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(h).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(dangers(h)).toEqual([]);
    const doc = new DOMParser().parseFromString(h, 'text/html');
    expect(doc.body.textContent).toContain('<script>alert(1)</script>');
  });

  it('renders inline and display math with KaTeX', () => {
    const inline = renderMessage('Euler: $e^{i\\pi}+1=0$ done');
    expect(inline).toContain('class="katex"');
    expect(inline).not.toContain('katex-display');
    const block = renderMessage('$$\\int_0^1 x\\,dx = \\frac12$$');
    expect(block).toContain('katex-display');
    expect(dangers(block)).toEqual([]);
  });

  it('keeps the SVG and inline styles KaTeX needs', () => {
    const h = renderMessage('$\\sqrt{x^2+1}$');
    expect(h).toMatch(/<path d="M/);
    expect(h).toMatch(/style="[^"]*height/);
    expect(dangers(h)).toEqual([]);
  });

  it('leaves prices alone', () => {
    const h = renderMessage('it costs $5 and $10 today');
    expect(h).not.toContain('katex');
    expect(h).toContain('$5 and $10');
  });

  it('does not let KaTeX make links', () => {
    const h = renderMessage('$\\href{javascript:alert(1)}{x}$ $\\url{javascript:alert(1)}$');
    expect(dangers(h)).toEqual([]);
  });

  it('never emits script, event handlers or javascript: URLs (property)', () => {
    const pieces = [
      '<script>', '</script>', '<img src=x onerror=alert(1)>', '<svg onload=alert(1)>', 'javascript:',
      'JaVaScRiPt:', 'alert(1)', '[x](', ')', '](', '![', '<', '>', '"', "'", '`', '```', '\n', ' ', '$', '$$',
      '\\', '*', '_', 'onerror=', 'onclick="x"', '<a href="', '<iframe src=', 'data:text/html,', '&#106;avascript:',
      '\\href{', '}{', '}', '<math>', '<style>', '<!--', '-->', 'http://x.y', 'mailto:a@b', '<', '\t', '\u0000', 'x',
    ];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 6 })), { maxLength: 40 }), (parts) => {
        const src = parts.join('');
        const html = renderMessage(src);
        const d = dangers(html);
        if (d.length) throw new Error(`unsafe output for ${JSON.stringify(src)}: ${d.join(', ')}\n${html}`);
      }),
      { numRuns: 1000 },
    );
  }, 180_000);

  it('never emits script for arbitrary unicode strings (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (src) => {
        expect(dangers(renderMessage(src))).toEqual([]);
      }),
      { numRuns: 400 },
    );
  }, 180_000);
});

describe('isSafeUrl', () => {
  it('accepts only http, https and mailto', () => {
    expect(isSafeUrl('https://a.b')).toBe(true);
    expect(isSafeUrl('http://a.b')).toBe(true);
    expect(isSafeUrl('mailto:x@y')).toBe(true);
    expect(isSafeUrl('javascript:alert(1)')).toBe(false);
    expect(isSafeUrl(' javascript:alert(1)')).toBe(false);
    expect(isSafeUrl('ftp://a')).toBe(false);
    expect(isSafeUrl('/x')).toBe(false);
  });
});

describe('previewText', () => {
  it('strips markup and shortens', () => {
    expect(previewText('**hi** [there](https://x.y)')).toBe('hi there');
    expect(previewText('a'.repeat(100), 10)).toBe('aaaaaaaaa…');
  });
});
