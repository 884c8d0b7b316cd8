// Search (issue 8): the request's query string, the form → request mapping, and
// snippets rendered as text (never HTML from the server).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// vitest resolves 'svelte' to its server build; mounting needs the client entry, by path.
// @ts-expect-error the file has no declaration of its own (the package's types cover 'svelte')
import { mount, unmount, flushSync } from '../node_modules/svelte/src/index-client.js';
import { Api, ApiError, searchQuery } from '../src/lib/api';
import { buildSearch, dayEnd, dayStart } from '../src/lib/search';
import Snippet from '../src/components/Snippet.svelte';
import type { Message, User } from '../src/lib/types';

const grace: User = { id: 2, username: 'grace', display_name: 'Grace', role: 'user', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const msg: Message = { id: 7, conversation_id: 3, seq: 4, sender: grace, body: 'Café lecture notes', created_at: '2026-11-29T09:30:00.000Z', client_id: null, deleted: false };

function recorder(status: number, body: unknown) {
  const urls: string[] = [];
  const api = new Api('', async (url: string) => {
    urls.push(url);
    return new Response(JSON.stringify(body), { status });
  });
  return { api, urls };
}

describe('search query string', () => {
  it('sends the text as typed, URL-encoded: quotes, FTS operators, parentheses, unicode', () => {
    const qs = searchQuery({ q: '"quoted" OR NOT (x' });
    expect(qs).toBe('q=%22quoted%22+OR+NOT+%28x');
    expect(new URLSearchParams(qs).get('q')).toBe('"quoted" OR NOT (x');
    for (const q of ['Café', 'naïve Ünïcödé 日本語 🎉', 'a+b & c=d #e %f', 'x* ^y -z col:val NEAR(a b)', '?q=inject&conversation_id=1']) {
      const p = new URLSearchParams(searchQuery({ q }));
      expect(p.get('q')).toBe(q);
      expect([...p.keys()]).toEqual(['q']); // nothing in the text becomes another parameter
    }
    expect(searchQuery({ q: 'Café' })).toBe('q=Caf%C3%A9');
  });

  it('adds the filters only when set, RFC 3339 times as they are', () => {
    const qs = searchQuery({ q: 'cafe', conversation_id: 3, sender_id: 2, after: '2026-11-28T23:00:00.000Z', before: '2026-11-30T23:00:00.000Z', limit: 30, offset: 30 });
    const p = new URLSearchParams(qs);
    expect(Object.fromEntries(p)).toEqual({ q: 'cafe', conversation_id: '3', sender_id: '2', after: '2026-11-28T23:00:00.000Z', before: '2026-11-30T23:00:00.000Z', limit: '30', offset: '30' });
    expect(searchQuery({ q: 'cafe', offset: 0 })).toBe('q=cafe');
  });

  it('Api.search calls GET /search and reads results; the envelope message is the error', async () => {
    const ok = recorder(200, { results: [{ message: msg, conversation_name: 'Lab', snippet: [{ text: 'Café', match: true }] }], has_more: true });
    const r = await ok.api.search({ q: 'cafe', conversation_id: 3 });
    expect(ok.urls).toEqual(['/api/v1/search?q=cafe&conversation_id=3']);
    expect(r.has_more).toBe(true);
    expect(r.results[0].snippet).toEqual([{ text: 'Café', match: true }]);

    const bad = recorder(400, { error: { code: 'invalid', message: 'the query has no word to search for' } });
    await expect(bad.api.search({ q: '()' })).rejects.toMatchObject({ status: 400, message: 'the query has no word to search for' });
    await expect(bad.api.search({ q: '()' })).rejects.toBeInstanceOf(ApiError);
  });

  it('Api.mentions pages with before_id; notification mute is a PUT', async () => {
    const m = recorder(200, { messages: [msg], has_more: false });
    await m.api.mentions();
    await m.api.mentions({ before_id: 7, limit: 50 });
    expect(m.urls).toEqual(['/api/v1/mentions', '/api/v1/mentions?limit=50&before_id=7']);
    const calls: { url: string; init: RequestInit }[] = [];
    const api = new Api('', async (url: string, init: RequestInit = {}) => {
      calls.push({ url, init });
      return new Response(null, { status: 204 });
    });
    api.csrf = 'tok';
    await api.setNotificationsMuted(5, true);
    expect(calls[0].url).toBe('/api/v1/conversations/5/notifications');
    expect(calls[0].init.method).toBe('PUT');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ muted: true });
    expect((calls[0].init.headers as Record<string, string>)['X-CSRF-Token']).toBe('tok');
  });
});

describe('search form', () => {
  const empty = { q: '', conversationId: '', senderId: '', from: '', to: '' };

  it('nothing to search without text; filters become numbers and whole days', () => {
    expect(buildSearch({ ...empty, q: '   ' })).toBeNull();
    expect(buildSearch({ ...empty, q: ' cafe ' })).toEqual({ q: 'cafe', limit: 30 });
    const b = buildSearch({ q: 'cafe', conversationId: '3', senderId: '2', from: '2026-11-01', to: '2026-11-29' }, 30);
    expect(b).toEqual({ q: 'cafe', limit: 30, offset: 30, conversation_id: 3, sender_id: 2, after: dayStart('2026-11-01'), before: dayEnd('2026-11-29') });
    // Local midnight to local midnight of the next day, as RFC 3339.
    expect(new Date(dayStart('2026-11-29')).getTime()).toBe(new Date(2026, 10, 29).getTime());
    expect(new Date(dayEnd('2026-11-29')).getTime()).toBe(new Date(2026, 10, 30).getTime());
    expect(dayStart('2026-11-29')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(dayStart('not a date')).toBe('');
  });

  it('refuses a reversed range and a query over 200 characters', () => {
    expect(buildSearch({ ...empty, q: 'x', from: '2026-11-29', to: '2026-11-01' })).toEqual({ error: expect.stringMatching(/from/) });
    expect(buildSearch({ ...empty, q: 'x', from: '2026-11-29', to: '2026-11-29' })).not.toHaveProperty('error');
    expect(buildSearch({ ...empty, q: 'é'.repeat(200) })).not.toHaveProperty('error');
    expect(buildSearch({ ...empty, q: 'a'.repeat(201) })).toEqual({ error: expect.stringMatching(/200/) });
  });
});

describe('snippets', () => {
  function render(parts: { text: string; match: boolean }[]) {
    const target = document.createElement('div');
    const c = mount(Snippet, { target, props: { parts } });
    flushSync();
    return { target, done: () => unmount(c) };
  }

  it('renders server text as text: no element is ever made from it', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const { target, done } = render([
      { text: 'before ', match: false },
      { text: evil, match: true },
      { text: ' <script>alert(2)</script> <b>bold</b> &amp; ', match: false },
    ]);
    expect(target.querySelector('img, script, b')).toBeNull();
    expect(target.textContent).toBe(`before ${evil} <script>alert(2)</script> <b>bold</b> &amp; `);
    // The one element inside is the <mark> of the matched part, holding the text as it came.
    const marks = target.querySelectorAll('mark');
    expect(marks.length).toBe(1);
    expect(marks[0].textContent).toBe(evil);
    expect(marks[0].children.length).toBe(0);
    done();
  });

  it('marks exactly the matched parts, in order', () => {
    const { target, done } = render([
      { text: 'Café', match: true },
      { text: ' lecture ', match: false },
      { text: 'notes', match: true },
    ]);
    expect([...target.querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['Café', 'notes']);
    expect(target.textContent).toBe('Café lecture notes');
    done();
  });

  it('the search and mentions views never use {@html}', () => {
    for (const f of ['Search.svelte', 'Snippet.svelte', 'MentionsView.svelte', 'MessageResult.svelte']) {
      expect(readFileSync(join(__dirname, '../src/components', f), 'utf8')).not.toMatch(/\{@html/);
    }
  });
});
