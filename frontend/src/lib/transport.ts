// The connection under ChatSocket on hostile networks: an application-level
// heartbeat that notices a dead socket (phones kill sockets silently), and a
// fallback to Server-Sent Events plus REST when WebSockets are blocked
// (school proxies and firewalls). ChatSocket sees one WebSocket-like object
// either way, so resume-by-seq, the outbox and acks work unchanged.

export interface SocketLike {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** What SseSocket needs of EventSource (a fake in tests). */
export interface EventSourceLike {
  onmessage: ((ev: { data: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  addEventListener(type: string, fn: (ev: { data: string }) => void): void;
  close(): void;
}

export type TransportKind = 'websocket' | 'sse';

type ESCtor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;
type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface NetOptions {
  /** The CSRF token of the browser session (sent on the REST side of the fallback). */
  csrf: () => string;
  WebSocketImpl?: new (url: string) => SocketLike;
  EventSourceImpl?: new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;
  fetchImpl?: FetchLike;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  /** WebSocket attempts that end before opening, in a row, before using SSE. */
  failuresBeforeFallback?: number;
  /** While on SSE, how often to see whether a WebSocket gets through again. */
  probeEvery?: number;
  /** Silence after which the client pings. */
  silenceMs?: number;
  /** How long a ping may go unanswered before the connection counts as dead. */
  deadMs?: number;
  onTransport?: (kind: TransportKind) => void;
}

/** The frame the server answers a ping with, byte for byte. */
const PONG = '{"type":"pong"}';
const PING = '{"type":"ping"}';
/** Close code reported when the heartbeat gave up on a connection (never sent on the wire). */
export const CLOSE_DEAD = 4000;
/** Close code reported when an SSE stream is dropped because a WebSocket works again. */
export const CLOSE_UPGRADE = 4001;

type Req<T> = Required<Omit<T, 'onTransport' | 'EventSourceImpl' | 'WebSocketImpl' | 'fetchImpl'>>;

/** http(s)://host/api/v1/events for ws(s)://host/api/v1/ws. */
export function eventsUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):/, 'http$1:').replace(/\/ws(\?.*)?$/, '/events');
}

/**
 * Wraps a socket with the heartbeat: after `silenceMs` without a frame from
 * the server it sends `ping`; nothing within `deadMs` more and the socket is
 * closed and reported closed (CLOSE_DEAD), so ChatSocket reconnects and
 * resumes. An idle client costs one small frame per `silenceMs`.
 */
class Heartbeat implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  opened = false;
  private timer: unknown = null;
  private ended = false;

  constructor(
    readonly inner: SocketLike,
    private readonly o: Req<NetOptions>,
    private readonly hooks: { opened(): void; closed(opened: boolean): void },
  ) {
    inner.onopen = (ev) => {
      this.opened = true;
      this.arm();
      hooks.opened();
      this.onopen?.(ev);
    };
    inner.onmessage = (ev) => {
      this.arm();
      if (ev.data === PONG) return;
      this.onmessage?.(ev);
    };
    inner.onclose = (ev) => this.end(ev.code, ev.reason);
    inner.onerror = (ev) => this.onerror?.(ev);
  }

  get readyState(): number {
    return this.ended ? 3 : this.inner.readyState;
  }

  send(data: string): void {
    this.inner.send(data);
  }

  close(code?: number, reason?: string): void {
    this.disarm();
    this.ended = true;
    this.inner.onopen = this.inner.onmessage = this.inner.onclose = this.inner.onerror = null;
    try {
      this.inner.close(code, reason);
    } catch {
      /* already closed */
    }
  }

  /** Pings now and gives the server `deadMs` to answer (the page woke up; the socket may be dead). */
  check(): void {
    if (!this.opened || this.ended) return;
    this.disarm();
    this.ping();
  }

  private arm(): void {
    this.disarm();
    this.timer = this.o.setTimer(() => {
      this.timer = null;
      this.ping();
    }, this.o.silenceMs);
  }

  private ping(): void {
    try {
      this.inner.send(PING);
    } catch {
      /* the deadline below ends it */
    }
    this.timer = this.o.setTimer(() => {
      this.timer = null;
      this.close();
      this.ended = false; // report it once, below
      this.end(CLOSE_DEAD, 'no answer to ping');
    }, this.o.deadMs);
  }

  private disarm(): void {
    if (this.timer !== null) this.o.clearTimer(this.timer);
    this.timer = null;
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.disarm();
    this.hooks.closed(this.opened);
    this.onclose?.({ code, reason });
  }
}

/**
 * The WebSocket-shaped face of the fallback: server frames from an
 * EventSource on /api/v1/events, client frames over REST — messages to
 * POST …/messages with their client_id (idempotent; the answer becomes the
 * `ack`), every other frame to POST /api/v1/events/{stream_id} (answered on
 * the stream). Requests go one at a time, in order, like frames on a socket.
 */
export class SseSocket implements SocketLike {
  readyState = 0;
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  private readonly es: EventSourceLike;
  private stream = '';
  private chain: Promise<void> = Promise.resolve();
  private readonly origin: string;

  constructor(
    url: string,
    private readonly csrf: () => string,
    ES: new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike,
    private readonly fetchImpl: FetchLike,
  ) {
    this.origin = url.replace(/\/api\/v1\/events.*$/, '');
    this.es = new ES(url, { withCredentials: true });
    this.es.addEventListener('stream', (ev) => {
      try {
        this.stream = String((JSON.parse(ev.data) as { stream_id?: unknown }).stream_id ?? '');
      } catch {
        this.stream = '';
      }
      if (!this.stream || this.readyState !== 0) return;
      this.readyState = 1;
      this.onopen?.({});
    });
    this.es.onmessage = (ev) => {
      if (this.readyState === 1) this.onmessage?.({ data: ev.data });
    };
    this.es.addEventListener('close', (ev) => {
      let code = 1006;
      let reason = '';
      try {
        const d = JSON.parse(ev.data) as { code?: number; reason?: string };
        code = typeof d.code === 'number' ? d.code : 1006;
        reason = d.reason ?? '';
      } catch {
        /* keep 1006 */
      }
      this.end(code, reason);
    });
    // EventSource would reconnect by itself, from its own idea of the position;
    // the chat client's backoff and resume-by-seq do it instead.
    this.es.onerror = () => this.end(1006, '');
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open');
    const f = JSON.parse(data) as Record<string, unknown>;
    this.chain = this.chain.then(() => this.deliver(f, data));
  }

  close(): void {
    this.readyState = 3;
    this.es.close();
  }

  private end(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.es.close();
    this.onclose?.({ code, reason });
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    const t = this.csrf();
    if (t) h['X-CSRF-Token'] = t;
    return h;
  }

  private frame(f: unknown): void {
    if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(f) });
  }

  private async deliver(f: Record<string, unknown>, data: string): Promise<void> {
    if (this.readyState !== 1) return;
    const isSend = f.type === 'send';
    let url = `${this.origin}/api/v1/events/${this.stream}`;
    let body = data;
    if (isSend) {
      const { conversation_id, type: _t, ...rest } = f;
      url = `${this.origin}/api/v1/conversations/${Number(conversation_id)}/messages`;
      body = JSON.stringify(rest);
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, { method: 'POST', headers: this.headers(), body, credentials: 'same-origin' });
    } catch {
      this.end(1006, 'request failed'); // reconnect; the outbox resends with the same client_id
      return;
    }
    let answer: unknown = undefined;
    try {
      answer = await res.json();
    } catch {
      answer = undefined;
    }
    if (isSend) {
      if (res.ok) {
        this.frame({ type: 'ack', client_id: f.client_id, message: answer });
        return;
      }
      if (res.status >= 500 && res.status !== 503) {
        this.end(1011, 'server error');
        return;
      }
      const e = (answer as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (res.status === 401) {
        this.end(4401, e?.message ?? 'sign in again');
        return;
      }
      this.frame({ type: 'error', code: e?.code ?? 'http_' + res.status, message: e?.message ?? '', client_id: f.client_id });
      return;
    }
    if (res.status === 401) this.end(4401, 'sign in again');
    else if (res.status === 404) this.end(1006, 'stream ended');
    else if (!res.ok && res.status !== 400) this.end(1011, 'server error');
  }
}

/**
 * Picks the transport for each connection ChatSocket opens: WebSocket first;
 * after `failuresBeforeFallback` WebSocket attempts in a row that end before
 * opening, SSE; while on SSE, a WebSocket is tried every `probeEvery` ms and
 * used again as soon as one opens. Pass `Impl` to ChatSocket as WebSocketImpl.
 */
export class NetTransport {
  kind: TransportKind = 'websocket';
  readonly Impl: new (url: string) => SocketLike;
  private failures = 0;
  private current: Heartbeat | null = null;
  private probeTimer: unknown = null;
  private probing: SocketLike | null = null;
  private lastUrl = '';
  private readonly o: Req<NetOptions> & Pick<NetOptions, 'onTransport'>;
  private readonly WS: () => new (url: string) => SocketLike;
  private readonly ES: () => ESCtor;
  private readonly fetchImpl: () => FetchLike;

  constructor(opts: NetOptions) {
    this.o = {
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      failuresBeforeFallback: 2,
      probeEvery: 60_000,
      silenceMs: 5_000,
      deadMs: 5_000,
      ...opts,
    };
    // Looked up when used, so a page (or test) that replaces them later is followed.
    const g = globalThis as unknown as { WebSocket: new (url: string) => SocketLike; EventSource: ESCtor };
    this.WS = () => opts.WebSocketImpl ?? g.WebSocket;
    this.ES = () => opts.EventSourceImpl ?? g.EventSource;
    this.fetchImpl = () => opts.fetchImpl ?? ((u, i) => fetch(u, i));
    const open = (url: string) => this.open(url);
    this.Impl = function (url: string) {
      return open(url);
    } as unknown as new (url: string) => SocketLike;
  }

  /** The page woke up or came back online: make sure the connection still lives. */
  wake(): void {
    this.current?.check();
  }

  /** Stops the background WebSocket probe (sign out). */
  stop(): void {
    this.stopProbe();
  }

  private open(url: string): SocketLike {
    this.lastUrl = url;
    const kind = this.kind;
    const inner =
      kind === 'sse' ? new SseSocket(eventsUrl(url), this.o.csrf, this.ES(), this.fetchImpl()) : new (this.WS())(url);
    const hb: Heartbeat = new Heartbeat(inner, this.o, {
      opened: () => {
        if (kind === 'websocket') this.failures = 0;
        this.announce();
      },
      closed: (opened) => {
        if (this.current === hb) this.current = null;
        if (opened) return;
        if (kind === 'websocket') {
          if (++this.failures >= this.o.failuresBeforeFallback && this.typeofES() && this.kind === 'websocket') this.use('sse');
        } else if (this.kind === 'sse') {
          // The stream did not open either: the server may be down, not the
          // socket blocked. Try the WebSocket again first.
          this.failures = 0;
          this.use('websocket');
        }
      },
    });
    this.current = hb;
    return hb;
  }

  private typeofES(): boolean {
    return typeof this.ES() === 'function';
  }

  private announce(): void {
    this.o.onTransport?.(this.kind);
  }

  private use(kind: TransportKind): void {
    this.kind = kind;
    if (kind === 'sse') this.scheduleProbe();
    else this.stopProbe();
  }

  private scheduleProbe(): void {
    this.stopProbe();
    this.probeTimer = this.o.setTimer(() => this.probe(), this.o.probeEvery);
  }

  private stopProbe(): void {
    if (this.probeTimer !== null) this.o.clearTimer(this.probeTimer);
    this.probeTimer = null;
    if (this.probing) {
      const p = this.probing;
      this.probing = null;
      p.onopen = p.onclose = p.onerror = p.onmessage = null;
      try {
        p.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** Tries one WebSocket in the background; if it opens, the stream gives way to it. */
  private probe(): void {
    this.probeTimer = null;
    if (this.kind !== 'sse' || !this.lastUrl) return;
    let ws: SocketLike;
    try {
      ws = new (this.WS())(this.lastUrl);
    } catch {
      this.scheduleProbe();
      return;
    }
    this.probing = ws;
    ws.onopen = () => {
      this.probing = null;
      ws.onclose = ws.onopen = ws.onmessage = ws.onerror = null;
      try {
        ws.close(1000, 'probe');
      } catch {
        /* fine */
      }
      this.failures = 0;
      this.use('websocket');
      const cur = this.current;
      if (cur && cur.inner instanceof SseSocket) {
        cur.close();
        // Report it as a close so ChatSocket reconnects (over the WebSocket) and resumes.
        cur.onclose?.({ code: CLOSE_UPGRADE, reason: 'websocket available again' });
      }
    };
    ws.onclose = () => {
      if (this.probing !== ws) return;
      this.probing = null;
      if (this.kind === 'sse') this.scheduleProbe();
    };
  }
}
