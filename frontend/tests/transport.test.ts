import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatSocket } from '../src/lib/api';
import { CLOSE_DEAD, NetTransport, eventsUrl, type EventSourceLike, type SocketLike } from '../src/lib/transport';
import { FakeWS } from './fakes';

class FakeES implements EventSourceLike {
  static all: FakeES[] = [];
  onmessage: ((ev: { data: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  closed = false;
  private listeners = new Map<string, (ev: { data: string }) => void>();
  constructor(public url: string, public init?: { withCredentials?: boolean }) {
    FakeES.all.push(this);
  }
  addEventListener(type: string, fn: (ev: { data: string }) => void) {
    this.listeners.set(type, fn);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data: unknown) {
    const d = JSON.stringify(data);
    if (type === 'message') this.onmessage?.({ data: d });
    else this.listeners.get(type)?.({ data: d });
  }
}

let sockets: FakeWS[] = [];
class TrackedWS extends FakeWS {
  constructor(url: string) {
    super(url);
    sockets.push(this);
  }
}

const posts: { url: string; body: unknown; headers: Record<string, string> }[] = [];
let answer: (url: string, body: Record<string, unknown>) => Response = () => new Response(null, { status: 204 });
const fetchImpl = async (url: string, init: RequestInit) => {
  const body = JSON.parse(String(init.body));
  posts.push({ url, body, headers: init.headers as Record<string, string> });
  return answer(url, body);
};

function net(extra: Partial<ConstructorParameters<typeof NetTransport>[0]> = {}) {
  return new NetTransport({ csrf: () => 'tok', WebSocketImpl: TrackedWS as unknown as new (url: string) => SocketLike, EventSourceImpl: FakeES, fetchImpl, ...extra });
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers();
  sockets = [];
  FakeES.all = [];
  posts.length = 0;
  answer = () => new Response(null, { status: 204 });
});
afterEach(() => vi.useRealTimers());

const me = { id: 7, username: 'ada', display_name: 'Ada', role: 'user', created_at: '2026-11-29T09:00:00.000Z', disabled: false };

describe('heartbeat', () => {
  it('pings after 5 s of silence and reports a dead socket 5 s later', () => {
    const n = net();
    const s = new n.Impl('ws://h/api/v1/ws');
    const closes: number[] = [];
    s.onclose = (e) => closes.push(e.code);
    const ws = sockets[0];
    ws.readyState = 1;
    ws.onopen?.();
    vi.advanceTimersByTime(4_999);
    expect(ws.sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ws.sent).toEqual([{ type: 'ping' }]);
    vi.advanceTimersByTime(4_999);
    expect(closes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(closes).toEqual([CLOSE_DEAD]);
    expect(ws.readyState).toBe(3);
  });

  it('stays quiet while frames flow, and swallows pongs', () => {
    const n = net();
    const s = new n.Impl('ws://h/api/v1/ws');
    const got: unknown[] = [];
    const closes: number[] = [];
    s.onmessage = (e) => got.push(e.data);
    s.onclose = (e) => closes.push(e.code);
    const ws = sockets[0];
    ws.readyState = 1;
    ws.onopen?.();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(3_000);
      ws.frame({ type: 'typing', conversation_id: 1 });
    }
    expect(ws.sent).toEqual([]);
    vi.advanceTimersByTime(5_000);
    expect(ws.sent).toEqual([{ type: 'ping' }]);
    vi.advanceTimersByTime(1_000);
    ws.onmessage?.({ data: '{"type":"pong"}' });
    vi.advanceTimersByTime(4_500);
    expect(closes).toEqual([]);
    expect(got).toHaveLength(10); // the pong did not reach the client
  });

  it('checks at once when the page wakes up, and a reconnect follows the dead socket', () => {
    const n = net();
    const states: string[] = [];
    const cs = new ChatSocket({ url: 'ws://h/api/v1/ws', onFrame: () => {}, onState: (s) => states.push(s), WebSocketImpl: n.Impl, random: () => 0 });
    cs.start();
    const ws = sockets[0];
    ws.readyState = 1;
    ws.onopen?.();
    ws.frame({ type: 'ready', user: me });
    n.wake();
    expect(ws.sent).toEqual([{ type: 'ping' }]);
    vi.advanceTimersByTime(5_000);
    expect(states.at(-1)).toBe('offline');
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2); // reconnected (backoff 0 with random 0)
  });
});

describe('fallback to Server-Sent Events', () => {
  it('maps the socket URL to the event stream', () => {
    expect(eventsUrl('ws://h:1/api/v1/ws')).toBe('http://h:1/api/v1/events');
    expect(eventsUrl('wss://h/api/v1/ws')).toBe('https://h/api/v1/events');
  });

  it('switches after two WebSocket attempts close before opening, and chats over SSE + REST', async () => {
    const kinds: string[] = [];
    const n = net({ onTransport: (k) => kinds.push(k) });
    const frames: Record<string, unknown>[] = [];
    const cs = new ChatSocket({ url: 'ws://h/api/v1/ws', onFrame: (f) => frames.push(f as never), WebSocketImpl: n.Impl, random: () => 0 });
    cs.subscribe(3, 41);
    cs.start();
    sockets[0].onclose?.({ code: 1006, reason: '' });
    vi.advanceTimersByTime(1);
    sockets[1].onclose?.({ code: 1006, reason: '' });
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    expect(FakeES.all).toHaveLength(1);
    const es = FakeES.all[0];
    expect(es.url).toBe('http://h/api/v1/events');
    expect(es.init?.withCredentials).toBe(true);
    es.emit('stream', { stream_id: 'abc' });
    expect(kinds).toEqual(['sse']);
    es.emit('message', { type: 'ready', user: me });
    await flush();
    // Resume by seq, over REST to the stream.
    expect(posts[0]).toMatchObject({ url: 'http://h/api/v1/events/abc', body: { type: 'subscribe', conversation_id: 3, after_seq: 41 } });
    expect(posts[0].headers['X-CSRF-Token']).toBe('tok');

    // A send goes to POST …/messages with its client_id; the answer is the ack.
    const msg = { id: 9, conversation_id: 3, seq: 42, sender: me, body: 'hi', created_at: me.created_at, client_id: 'c1', deleted: false };
    answer = (url) => (url.endsWith('/messages') ? new Response(JSON.stringify(msg), { status: 201 }) : new Response(null, { status: 204 }));
    cs.send(3, 'hi', 'c1');
    expect(cs.pending()).toHaveLength(1);
    await flush();
    expect(posts[1]).toMatchObject({ url: 'http://h/api/v1/conversations/3/messages', body: { client_id: 'c1', body: 'hi' } });
    expect(posts[1].body).not.toHaveProperty('type');
    expect(frames.some((f) => f.type === 'ack' && f.client_id === 'c1')).toBe(true);
    expect(cs.pending()).toHaveLength(0);
    // Live frames from the stream reach the client; the position advances.
    es.emit('message', { type: 'message', message: { ...msg, id: 10, seq: 43, client_id: null } });
    expect(cs.lastSeq(3)).toBe(43);

    // The heartbeat works over SSE too: its ping is a REST frame, the pong comes on the stream.
    vi.advanceTimersByTime(5_000);
    await flush();
    expect(posts.at(-1)?.body).toEqual({ type: 'ping' });
    es.emit('message', { type: 'pong' });
    vi.advanceTimersByTime(4_000);
    expect(es.closed).toBe(false);
  });

  it('a refused send becomes an error frame for that client_id; a 4401 close ends the session', async () => {
    const n = net({ failuresBeforeFallback: 1 });
    const frames: Record<string, unknown>[] = [];
    let lost = 0;
    const cs = new ChatSocket({ url: 'ws://h/api/v1/ws', onFrame: (f) => frames.push(f as never), WebSocketImpl: n.Impl, random: () => 0, onAuthLost: () => lost++ });
    cs.start();
    sockets[0].onclose?.({ code: 1006, reason: '' });
    vi.advanceTimersByTime(1);
    const es = FakeES.all[0];
    es.emit('stream', { stream_id: 's' });
    es.emit('message', { type: 'ready', user: me });
    answer = () => new Response(JSON.stringify({ error: { code: 'forbidden', message: 'muted' } }), { status: 403 });
    cs.send(5, 'x', 'c9');
    await flush();
    expect(frames.find((f) => f.type === 'error')).toMatchObject({ code: 'forbidden', client_id: 'c9' });
    es.emit('close', { code: 4401, reason: 'account changed' });
    expect(lost).toBe(1);
    expect(es.closed).toBe(true);
  });

  it('keeps trying the WebSocket in the background and moves back when one opens', async () => {
    const kinds: string[] = [];
    const n = net({ failuresBeforeFallback: 1, probeEvery: 60_000, onTransport: (k) => kinds.push(k) });
    const cs = new ChatSocket({ url: 'ws://h/api/v1/ws', onFrame: () => {}, WebSocketImpl: n.Impl, random: () => 0 });
    cs.subscribe(3, 5);
    cs.start();
    sockets[0].onclose?.({ code: 1006, reason: '' });
    vi.advanceTimersByTime(1);
    const es = FakeES.all[0];
    es.emit('stream', { stream_id: 's' });
    es.emit('message', { type: 'ready', user: me });
    // Keep the stream busy so the heartbeat stays quiet.
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(3_000);
      es.emit('message', { type: 'typing', conversation_id: 3, user: me });
    }
    expect(sockets).toHaveLength(2); // one probe at 60 s
    const probe = sockets[1];
    probe.onclose?.({ code: 1006, reason: '' }); // still blocked
    vi.advanceTimersByTime(60_000);
    await flush();
    const probe2 = sockets.at(-1)!;
    expect(probe2).not.toBe(probe);
    probe2.readyState = 1;
    probe2.onopen?.();
    expect(probe2.readyState).toBe(3); // the probe itself is closed
    expect(es.closed).toBe(true);
    vi.advanceTimersByTime(1);
    const ws = sockets.at(-1)!;
    expect(ws).not.toBe(probe2);
    ws.readyState = 1;
    ws.onopen?.();
    ws.frame({ type: 'ready', user: me });
    expect(ws.sent).toContainEqual({ type: 'subscribe', conversation_id: 3, after_seq: 5 });
    expect(kinds).toEqual(['sse', 'websocket']);
  });

  it('goes back to the WebSocket when the stream does not open either (server down)', () => {
    const n = net({ failuresBeforeFallback: 1 });
    const s1 = new n.Impl('ws://h/api/v1/ws');
    s1.onclose = () => {};
    sockets[0].onclose?.({ code: 1006, reason: '' });
    expect(n.kind).toBe('sse');
    const s2 = new n.Impl('ws://h/api/v1/ws');
    s2.onclose = () => {};
    FakeES.all[0].onerror?.({});
    expect(n.kind).toBe('websocket');
  });
});
