import { describe, expect, it, beforeEach } from 'vitest';
import { Api, ApiError, ChatSocket, errorText, newClientId, socketUrl, type PendingSend, type ProbeResult } from '../src/lib/api';
import type { Message, ServerFrame, User } from '../src/lib/types';
import { SockWS } from './fakes';

// --- fetch -------------------------------------------------------------------

interface Call {
  url: string;
  init: RequestInit;
}

function fakeFetch(respond: (c: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const f = async (url: string, init: RequestInit = {}) => {
    const c = { url, init };
    calls.push(c);
    return respond(c);
  };
  return { f, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

const user: User = { id: 7, username: 'ada', display_name: 'Ada', role: 'user', created_at: '2026-11-29T09:00:00.000Z', disabled: false };

describe('Api', () => {
  it('keeps the CSRF token from the session and sends it on unsafe requests only', async () => {
    const { f, calls } = fakeFetch((c) => {
      if (c.url.endsWith('/session')) return json(200, { user, csrf_token: 'tok123' });
      if (c.url.includes('/messages')) return json(201, { id: 1 });
      return json(200, { conversations: [] });
    });
    const api = new Api('', f);
    await api.login('ada', 'pw');
    expect(calls[0].init.method).toBe('POST');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ username: 'ada', password: 'pw' });
    expect(api.csrf).toBe('tok123');

    await api.conversations();
    const getHeaders = calls[1].init.headers as Record<string, string>;
    expect(getHeaders['X-CSRF-Token']).toBeUndefined();

    await api.postMessage(3, 'hi', 'c1');
    const postHeaders = calls[2].init.headers as Record<string, string>;
    expect(postHeaders['X-CSRF-Token']).toBe('tok123');
    expect(postHeaders['Content-Type']).toBe('application/json');
    expect(calls[2].url).toBe('/api/v1/conversations/3/messages');
    expect(calls[2].init.credentials).toBe('same-origin');
  });

  it('asks for a cookie session when registering or joining as a guest', async () => {
    const { f, calls } = fakeFetch(() => json(201, { user, csrf_token: 'x' }));
    const api = new Api('', f);
    await api.guest('Bob', 'ABC123');
    expect(calls[0].url).toBe('/api/v1/auth/guest');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ display_name: 'Bob', join_code: 'ABC123', session: true });
    await api.register({ username: 'bob', password: 'p', display_name: 'Bob', join_code: 'C' });
    expect(JSON.parse(String(calls[1].init.body)).session).toBe(true);
    await api.exchangeTicket('T1');
    expect(calls[2].url).toBe('/api/v1/session/ticket');
    expect(JSON.parse(String(calls[2].init.body))).toEqual({ ticket: 'T1' });
  });

  it('turns the error envelope into an ApiError with the server message', async () => {
    const { f } = fakeFetch(() => json(403, { error: { code: 'forbidden', message: 'This conversation is locked.' } }));
    const api = new Api('', f);
    const err = await api.postMessage(1, 'x', 'c').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(403);
    expect(err.code).toBe('forbidden');
    expect(errorText(err)).toBe('This conversation is locked.');
  });

  it('reports Retry-After for rate limits', async () => {
    const { f } = fakeFetch(() => json(429, { error: { code: 'rate_limited', message: 'Too many attempts.' } }, { 'Retry-After': '30' }));
    const err = await new Api('', f).login('a', 'b').catch((e) => e);
    expect(err.retryAfter).toBe(30);
    expect(errorText(err)).toBe('Too many attempts. (try again in 30 s)');
  });

  it('explains network failures and non-JSON errors', async () => {
    const down = new Api('', async () => {
      throw new TypeError('Failed to fetch');
    });
    const e1 = await down.info().catch((e) => e);
    expect(e1.code).toBe('network');
    expect(errorText(e1)).toMatch(/Cannot reach the server/);

    const proxy = new Api('', async () => new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const e2 = await proxy.info().catch((e) => e);
    expect(e2.status).toBe(502);
    expect(errorText(e2)).toMatch(/502/);
  });

  it('builds message queries', async () => {
    const { f, calls } = fakeFetch(() => json(200, { messages: [], has_more: false }));
    const api = new Api('', f);
    await api.messages(5, { before_seq: 40, limit: 50 });
    await api.messages(5, { after_seq: 3 });
    expect(calls[0].url).toBe('/api/v1/conversations/5/messages?before_seq=40&limit=50');
    expect(calls[1].url).toBe('/api/v1/conversations/5/messages?after_seq=3');
  });

  it('answers undefined for 204', async () => {
    const { f, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    const api = new Api('', f);
    api.csrf = 'k';
    await expect(api.deleteMessage(9)).resolves.toBeUndefined();
    expect(calls[0].init.method).toBe('DELETE');
    expect((calls[0].init.headers as Record<string, string>)['X-CSRF-Token']).toBe('k');
  });
});

// --- helpers -------------------------------------------------------------------

describe('newClientId', () => {
  it('is unique, short and printable', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newClientId();
      expect(id).toMatch(/^[a-z0-9]{1,64}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(1000);
  });
});

describe('socketUrl', () => {
  it('follows the page scheme', () => {
    expect(socketUrl({ protocol: 'http:', host: '10.0.0.5:8080' })).toBe('ws://10.0.0.5:8080/api/v1/ws');
    expect(socketUrl({ protocol: 'https:', host: 'chat.school' })).toBe('wss://chat.school/api/v1/ws');
  });
});

// --- WebSocket -------------------------------------------------------------------

class FakeWS extends SockWS {
  static all: FakeWS[] = [];
  send(data: string) {
    if (this.readyState !== 1) throw new Error('not open');
    super.send(data);
  }
  // test side
  open(u: User = user) {
    this.readyState = 1;
    this.onopen?.({});
    this.frame({ type: 'ready', user: u });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  types() {
    return this.sent.map((f) => f.type);
  }
}

async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function timers() {
  const q: { fn: () => void; ms: number; id: number }[] = [];
  let next = 1;
  return {
    q,
    set: (fn: () => void, ms: number) => {
      const id = next++;
      q.push({ fn, ms, id });
      return id;
    },
    clear: (id: unknown) => {
      const i = q.findIndex((t) => t.id === id);
      if (i >= 0) q.splice(i, 1);
    },
    runNext() {
      const t = q.shift();
      if (!t) throw new Error('no timer pending');
      t.fn();
      return t.ms;
    },
  };
}

function msg(conversation_id: number, seq: number, over: Partial<Message> = {}): Message {
  return {
    id: conversation_id * 1000 + seq,
    conversation_id,
    seq,
    sender: { ...user, id: 99, username: 'other', display_name: 'Other' },
    body: `m${seq}`,
    created_at: '2026-11-29T09:30:00.123Z',
    client_id: null,
    deleted: false,
    ...over,
  };
}

function setup(opts: { random?: () => number; stored?: PendingSend[]; probe?: () => Promise<ProbeResult> } = {}) {
  FakeWS.all = [];
  const t = timers();
  const frames: ServerFrame[] = [];
  const states: string[] = [];
  let saved: PendingSend[] = opts.stored ?? [];
  let authLost = 0;
  const s = new ChatSocket({
    url: 'ws://test/api/v1/ws',
    WebSocketImpl: FakeWS as unknown as new (url: string) => FakeWS,
    onFrame: (f) => frames.push(f),
    onState: (st) => states.push(st),
    onAuthLost: () => authLost++,
    random: opts.random ?? (() => 0.5),
    probe: opts.probe ?? (() => Promise.resolve({ ok: true as const })),
    setTimer: t.set,
    clearTimer: t.clear,
    persist: { load: () => saved, save: (l) => (saved = [...l]) },
  });
  return { s, t, frames, states, saved: () => saved, authLost: () => authLost, ws: () => FakeWS.all[FakeWS.all.length - 1] };
}

describe('ChatSocket', () => {
  beforeEach(() => {
    FakeWS.all = [];
  });

  it('is online only after ready, then subscribes from the given seq', () => {
    const { s, ws, states } = setup();
    s.subscribe(4, 12);
    s.start();
    expect(states).toEqual(['connecting']);
    expect(s.isOnline).toBe(false);
    ws().open();
    expect(s.isOnline).toBe(true);
    expect(states.at(-1)).toBe('online');
    expect(ws().sent).toEqual([{ type: 'subscribe', conversation_id: 4, after_seq: 12 }]);
  });

  it('queues sends while offline and sends them after ready with the same client_id', () => {
    const { s, ws } = setup();
    s.start();
    const p = s.send(1, 'hello', 'cid-1');
    expect(p.client_id).toBe('cid-1');
    expect(ws().sent).toEqual([]);
    ws().open();
    expect(ws().sent).toEqual([{ type: 'send', conversation_id: 1, client_id: 'cid-1', body: 'hello' }]);
  });

  it('on reconnect resubscribes every conversation from its last seen seq and resends unacked sends', () => {
    const { s, ws, t, saved } = setup();
    s.start();
    s.subscribe(1, 0);
    s.subscribe(2, 5);
    const first = ws();
    first.open();
    first.frame({ type: 'message', message: msg(1, 1) });
    first.frame({ type: 'message', message: msg(1, 2) });
    first.frame({ type: 'message', message: msg(2, 6) });
    s.send(1, 'one', 'a');
    s.send(1, 'two', 'b');
    first.frame({ type: 'ack', client_id: 'a', message: msg(1, 3, { client_id: 'a', sender: user, body: 'one' }) });
    expect(saved().map((p) => p.client_id)).toEqual(['b']);

    first.drop(1006);
    expect(s.state).toBe('offline');
    // While offline, a new message is typed.
    s.send(2, 'three', 'c');
    expect(t.q.length).toBe(1);
    t.runNext();
    const second = ws();
    expect(second).not.toBe(first);
    second.open();
    expect(second.sent).toEqual([
      { type: 'subscribe', conversation_id: 1, after_seq: 2 },
      { type: 'subscribe', conversation_id: 2, after_seq: 6 },
      { type: 'send', conversation_id: 1, client_id: 'b', body: 'two' },
      { type: 'send', conversation_id: 2, client_id: 'c', body: 'three' },
    ]);
    // The stored copy comes back on the stream before the ack: it leaves the outbox once.
    second.frame({ type: 'message', message: msg(1, 4, { client_id: 'b', sender: user, body: 'two' }) });
    expect(s.pending().map((p) => p.client_id)).toEqual(['c']);
    second.frame({ type: 'ack', client_id: 'b', message: msg(1, 4, { client_id: 'b', sender: user, body: 'two' }) });
    second.frame({ type: 'ack', client_id: 'c', message: msg(2, 7, { client_id: 'c', sender: user, body: 'three' }) });
    expect(s.pending()).toEqual([]);
    expect(saved()).toEqual([]);
  });

  it('does not drop its own pending send when someone else reuses the client_id', () => {
    const { s, ws } = setup();
    s.start();
    s.subscribe(1, 0);
    ws().open();
    s.send(1, 'mine', 'same');
    ws().frame({ type: 'message', message: msg(1, 1, { client_id: 'same' }) }); // sender id 99, not us
    expect(s.pending().map((p) => p.client_id)).toEqual(['same']);
  });

  it('retries quickly, then probes the health endpoint, and connects within a window once it answers', async () => {
    const answers: ProbeResult[] = [{ ok: false }, { ok: false, retryAfter: 2 }, { ok: true }, { ok: true }];
    let probes = 0;
    const { s, ws, t, states } = setup({ random: () => 0.999, probe: () => Promise.resolve(answers[probes++]) });
    s.start();
    ws().open();
    const sockets = FakeWS.all.length;
    ws().drop(1006);
    // Three quick attempts: uniform [0, 250·2^(n−1)] ms.
    const quick: number[] = [];
    for (let i = 0; i < 3; i++) {
      quick.push(t.runNext());
      ws().drop(1006);
    }
    expect(quick).toEqual([249, 499, 999]);
    expect(FakeWS.all.length).toBe(sockets + 3);
    // Then a probe after uniform [500, 1500] ms, no socket: the server is not there.
    expect(t.q.map((x) => x.ms)).toEqual([1499]);
    t.runNext();
    await flush();
    expect(probes).toBe(1);
    expect(FakeWS.all.length).toBe(sockets + 3);
    expect(t.q.map((x) => x.ms)).toEqual([1499]); // probe again
    t.runNext();
    await flush();
    // 503 with Retry-After: 2 → wait 2 s, spread over as much again.
    expect(t.q.map((x) => x.ms)).toEqual([3998]);
    t.runNext();
    await flush();
    // Answered: connect within [0, 2000] ms.
    expect(t.q.map((x) => x.ms)).toEqual([1998]);
    expect(FakeWS.all.length).toBe(sockets + 3);
    t.runNext();
    expect(FakeWS.all.length).toBe(sockets + 4);
    expect(states.at(-1)).toBe('connecting');
    // That connect fails too: probe, answered again, and the window doubles.
    ws().drop(1006);
    t.runNext();
    await flush();
    expect(t.q.map((x) => x.ms)).toEqual([3996]);
    t.runNext();
    ws().open();
    expect(s.attempt).toBe(0);
    expect(states.at(-1)).toBe('online');
    // After ready the schedule starts over with a quick retry.
    ws().drop(1001);
    expect(t.q[0].ms).toBe(249);
  });

  it('a Retry during a probe connects at once and ignores the late answer', async () => {
    let answer: (r: ProbeResult) => void = () => {};
    const { s, ws, t } = setup({ probe: () => new Promise((r) => (answer = r)) });
    s.start();
    for (let i = 0; i < 4; i++) {
      ws().drop(1006);
      t.runNext();
    }
    const before = FakeWS.all.length; // the probe is in flight
    s.retryNow();
    expect(FakeWS.all.length).toBe(before + 1);
    answer({ ok: true });
    await flush();
    expect(t.q.length).toBe(0);
    expect(s.state).toBe('connecting');
    // Forced while still connecting: the pending socket gives way to a fresh one.
    const pending = ws();
    s.retryNow(true);
    expect(FakeWS.all.length).toBe(before + 2);
    expect(pending.onclose).toBeNull();
    ws().open();
    expect(s.isOnline).toBe(true);
  });

  it('retryNow skips the wait', () => {
    const { s, ws, t } = setup();
    s.start();
    ws().drop();
    expect(t.q.length).toBe(1);
    const before = FakeWS.all.length;
    s.retryNow();
    expect(t.q.length).toBe(0);
    expect(FakeWS.all.length).toBe(before + 1);
  });

  it('stops for good on 4401 and reports the lost session', () => {
    const { s, ws, t, authLost } = setup();
    s.start();
    ws().open();
    ws().drop(4401);
    expect(authLost()).toBe(1);
    expect(s.state).toBe('stopped');
    expect(t.q.length).toBe(0);
  });

  it('tracks the last seq per subscription, and subscribed.last_seq when complete', () => {
    const { s, ws } = setup();
    s.start();
    s.subscribe(1, 3);
    ws().open();
    ws().frame({ type: 'message', message: msg(1, 4) });
    expect(s.lastSeq(1)).toBe(4);
    ws().frame({ type: 'subscribed', conversation_id: 1, last_seq: 4, has_more: false });
    expect(s.lastSeq(1)).toBe(4);
    // A backlog cut at 1,000: last_seq is not reached until the client fetched the gap.
    s.subscribe(2, 0);
    ws().frame({ type: 'message', message: msg(2, 1000) });
    ws().frame({ type: 'subscribed', conversation_id: 2, last_seq: 1500, has_more: true });
    expect(s.lastSeq(2)).toBe(1000);
    s.seen(2, 1500);
    expect(s.lastSeq(2)).toBe(1500);
    // Messages for conversations not subscribed do not create entries.
    ws().frame({ type: 'message', message: msg(3, 9) });
    expect(s.lastSeq(3)).toBeUndefined();
  });

  it('unsubscribe forgets the conversation for later reconnects', () => {
    const { s, ws, t } = setup();
    s.start();
    s.subscribe(1, 0);
    s.subscribe(2, 0);
    ws().open();
    s.unsubscribe(1);
    expect(ws().sent.at(-1)).toEqual({ type: 'unsubscribe', conversation_id: 1 });
    ws().drop();
    t.runNext();
    ws().open();
    expect(ws().sent).toEqual([{ type: 'subscribe', conversation_id: 2, after_seq: 0 }]);
  });

  it('a rejected send leaves the outbox and is reported; a rate-limited one is retried later', () => {
    const { s, ws, t, frames } = setup();
    s.start();
    ws().open();
    s.send(1, 'locked out', 'x');
    ws().frame({ type: 'error', client_id: 'x', code: 'forbidden', message: 'This conversation is locked.' });
    expect(s.pending()).toEqual([]);
    expect(frames.at(-1)).toMatchObject({ type: 'error', client_id: 'x', message: 'This conversation is locked.' });

    s.send(1, 'slow down', 'y');
    const sentBefore = ws().sent.length;
    ws().frame({ type: 'error', client_id: 'y', code: 'rate_limited', message: 'Too many messages.' });
    expect(s.pending().map((p) => p.client_id)).toEqual(['y']);
    t.runNext();
    expect(ws().sent.length).toBe(sentBefore + 1);
    expect(ws().sent.at(-1)).toEqual({ type: 'send', conversation_id: 1, client_id: 'y', body: 'slow down' });
  });

  it('restores the persisted outbox (reload while offline) and sends it once connected', () => {
    const stored: PendingSend[] = [{ client_id: 'old', conversation_id: 3, body: 'from before', created_at: '2026-11-29T09:00:00.000Z' }];
    const { s, ws } = setup({ stored });
    expect(s.pending()).toEqual(stored);
    s.start();
    ws().open();
    expect(ws().sent).toEqual([{ type: 'send', conversation_id: 3, client_id: 'old', body: 'from before' }]);
  });

  it('sending twice with the same client_id queues it once', () => {
    const { s, ws } = setup();
    s.start();
    s.send(1, 'a', 'dup');
    s.send(1, 'a', 'dup');
    expect(s.pending().length).toBe(1);
    ws().open();
    expect(ws().types()).toEqual(['send']);
  });

  it('ignores garbage frames and frames from a replaced socket', () => {
    const { s, ws, t, frames } = setup();
    s.start();
    const first = ws();
    first.open();
    first.onmessage?.({ data: 'not json' });
    first.drop();
    t.runNext();
    first.frame({ type: 'presence', user_id: 1, online: true });
    expect(frames.filter((f) => f.type === 'presence')).toEqual([]);
  });

  it('stop() closes and never reconnects', () => {
    const { s, ws, t } = setup();
    s.start();
    ws().open();
    s.stop();
    expect(s.state).toBe('stopped');
    expect(t.q.length).toBe(0);
    s.typing(1);
    expect(s.read(1, 3)).toBe(false);
  });
});
