// Message rendering: a safe Markdown subset (bold, italic, links, inline code,
// fenced code, lists, quotes) plus KaTeX math ($…$, $$…$$), always passed
// through DOMPurify before it reaches the page. Raw HTML in a message is
// shown as text; only http, https and mailto links survive.

import { Marked, type Tokens, type TokenizerAndRendererExtension } from 'marked';
import createDOMPurify from 'dompurify';
import katex from 'katex';

const ALLOWED_URL = /^(?:https?:|mailto:)/i;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** True for the only link targets a message may carry. */
export function isSafeUrl(href: string): boolean {
  // Browsers ignore ASCII whitespace and control characters inside a scheme ("java\tscript:"):
  // judge the URL the way the browser will read it.
  // eslint-disable-next-line no-control-regex
  const cleaned = href.replace(/[\u0000-\u0020\u007f]+/g, '');
  return ALLOWED_URL.test(cleaned) && !/[\s\u0000-\u001f]/.test(href.trim());
}

function renderMath(tex: string, displayMode: boolean): string {
  return katex.renderToString(tex, {
    displayMode,
    throwOnError: false,
    trust: false, // no \href, \url, \htmlClass …
    strict: 'ignore',
    maxSize: 20,
    maxExpand: 500,
    output: 'htmlAndMathml',
  });
}

const mathBlock: TokenizerAndRendererExtension = {
  name: 'mathBlock',
  level: 'block',
  start(src: string) {
    const i = src.indexOf('$$');
    return i < 0 ? undefined : i;
  },
  tokenizer(src: string) {
    const m = /^\$\$([\s\S]+?)\$\$[ \t]*(?:\n|$)/.exec(src);
    if (m && m[1].trim()) return { type: 'mathBlock', raw: m[0], text: m[1].trim() };
    return undefined;
  },
  renderer(token) {
    return `<div class="math-block">${renderMath(String(token.text), true)}</div>`;
  },
};

const mathInline: TokenizerAndRendererExtension = {
  name: 'mathInline',
  level: 'inline',
  start(src: string) {
    const i = src.indexOf('$');
    return i < 0 ? undefined : i;
  },
  tokenizer(src: string) {
    // $$display$$ inside a paragraph.
    let m = /^\$\$((?:\\[\s\S]|[^\\$])+?)\$\$/.exec(src);
    if (m && m[1].trim()) return { type: 'mathInline', raw: m[0], text: m[1].trim(), display: true };
    // $inline$: no space just inside the dollars and no digit right after the
    // closing one, so "costs $5 and $10" stays text.
    m = /^\$(?![\s$])((?:\\[\s\S]|[^\\\n$])+?)(?<!\s)\$(?!\d)/.exec(src);
    if (m) return { type: 'mathInline', raw: m[0], text: m[1], display: false };
    return undefined;
  },
  renderer(token) {
    return renderMath(String(token.text), Boolean(token.display));
  },
};

/**
 * Who may be mentioned where a message is shown: `@username` of a member (case-insensitive)
 * and `@all` when the server counted it (the message's `mention_all`). Highlighting happens
 * inside the Markdown pipeline (not in code), and the output still goes through DOMPurify.
 */
export interface MentionContext {
  /** Lowercase usernames that count as mentions here. */
  names: ReadonlySet<string>;
  /** The reader's own lowercase username (highlighted more). */
  me?: string;
  /** `@all` counts in this message. */
  all: boolean;
  /** Identifies names+me for the render cache (e.g. the member ids joined). */
  key: string;
}

/** Usernames: letters, digits, `.`, `_`, `-` (docs/api.md, Mentions). */
const MENTION = /^@([\p{L}\p{N}._-]+)/u;
const WORDISH = /[\p{L}\p{N}._-]$/u;

/** The mention context of the render in progress (parsing is synchronous). */
let mentionCtx: MentionContext | null = null;

/** The username a mention at the start of src names, or null (a trailing `.`, `-`, `_` may be punctuation). */
export function matchMention(src: string, ctx: MentionContext): string | null {
  const m = MENTION.exec(src);
  if (!m) return null;
  let name = m[1];
  const ok = (n: string) => ctx.names.has(n.toLowerCase()) || (ctx.all && n.toLowerCase() === 'all');
  while (name && !ok(name) && /[._-]$/.test(name)) name = name.slice(0, -1);
  return name && ok(name) ? name : null;
}

const mention: TokenizerAndRendererExtension = {
  name: 'mention',
  level: 'inline',
  start(src: string) {
    if (!mentionCtx) return undefined;
    const i = src.indexOf('@');
    return i < 0 ? undefined : i;
  },
  tokenizer(src: string, tokens) {
    if (!mentionCtx || src[0] !== '@') return undefined;
    // Not in the middle of a word or an address (x@y).
    const prev = tokens?.at(-1) as { raw?: string } | undefined;
    if (prev?.raw && WORDISH.test(prev.raw)) return undefined;
    const name = matchMention(src, mentionCtx);
    if (!name) return undefined;
    return { type: 'mention', raw: '@' + name, name };
  },
  renderer(token) {
    const name = String(token.name);
    const lower = name.toLowerCase();
    const self = lower === 'all' || (mentionCtx?.me !== undefined && lower === mentionCtx.me);
    return `<span class="mention${self ? ' mention-me' : ''}">@${escapeHtml(name)}</span>`;
  },
};

const md = new Marked({ gfm: true, breaks: true, async: false });
md.use({
  extensions: [mathBlock, mathInline, mention],
  renderer: {
    // Raw HTML is not part of the subset: show it as typed.
    html(token: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(token.text);
    },
    heading(token: Tokens.Heading) {
      return `<p><strong>${this.parser.parseInline(token.tokens)}</strong></p>\n`;
    },
    image(token: Tokens.Image) {
      // No remote images (offline classroom, no tracking): a link instead.
      const label = escapeHtml(token.text || token.href);
      if (!isSafeUrl(token.href)) return label;
      return `<a href="${escapeHtml(token.href)}">${label}</a>`;
    },
    link(token: Tokens.Link) {
      const inner = this.parser.parseInline(token.tokens);
      if (!isSafeUrl(token.href)) return inner;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
      return `<a href="${escapeHtml(token.href)}"${title}>${inner}</a>`;
    },
  },
});

type Purifier = ReturnType<typeof createDOMPurify>;
let purifier: Purifier | null = null;

function getPurifier(): Purifier {
  if (purifier) return purifier;
  const p = createDOMPurify(window);
  p.addHook('afterSanitizeAttributes', (node) => {
    const el = node as Element;
    // Only http, https and mailto targets survive, whatever attribute carries them.
    for (const name of URL_ATTRS) {
      const v = el.getAttribute?.(name);
      if (v !== null && v !== undefined && !isSafeUrl(v)) el.removeAttribute(name);
    }
    if (node.nodeName === 'A' && el.hasAttribute('href')) {
      el.setAttribute('target', '_blank');
      el.setAttribute('rel', 'noopener noreferrer');
    }
    // Belt and braces: no event handler attribute ever leaves this function.
    for (const a of Array.from(el.attributes ?? [])) {
      if (/^on/i.test(a.name)) el.removeAttribute(a.name);
    }
  });
  purifier = p;
  return p;
}

const URL_ATTRS = ['href', 'src', 'xlink:href', 'action', 'formaction', 'poster', 'background', 'cite', 'data'];

// DOMPurify's own URI check stays at its default (it also judges non-URL
// attributes such as SVG path data); the hook above narrows links further.
const PURIFY_CONFIG = {
  ALLOW_DATA_ATTR: false,
  ADD_TAGS: ['semantics', 'annotation'],
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'img', 'video', 'audio', 'iframe', 'object', 'embed', 'link', 'meta', 'base'],
  FORBID_ATTR: ['srcset', 'action', 'formaction', 'xlink:href', 'background', 'ping'],
};

/** Sanitizes any HTML string with the message policy. */
export function sanitize(html: string): string {
  return getPurifier().sanitize(html, PURIFY_CONFIG) as unknown as string;
}

const cache = new Map<string, string>();

/** Message body → safe HTML for {@html}; with a context, `@mentions` of members are highlighted. */
export function renderMessage(body: string, ctx?: MentionContext | null): string {
  const key = ctx ? `${ctx.key}\u0001${ctx.me ?? ''}\u0001${ctx.all ? 'A' : ''}\u0001${body}` : body;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let html: string;
  mentionCtx = ctx ?? null;
  try {
    html = md.parse(body) as string;
  } catch {
    html = `<p>${escapeHtml(body)}</p>`;
  } finally {
    mentionCtx = null;
  }
  const safe = sanitize(html);
  if (cache.size > 1000) cache.delete(cache.keys().next().value as string);
  cache.set(key, safe);
  return safe;
}

/** Plain-text preview of a message for the conversation list (no HTML at all). */
export function previewText(body: string, max = 80): string {
  const s = body
    .replace(/```[\s\S]*?```/g, '[code]')
    .replace(/\$\$[\s\S]*?\$\$/g, '[math]')
    .replace(/[*_`>#]+/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
