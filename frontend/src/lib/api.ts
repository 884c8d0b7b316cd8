// The one module that talks to the server: REST over fetch (cookie session +
// X-CSRF-Token) and the WebSocket with reconnect, resume by seq and an outbox
// of pending sends that are resent with the same client_id (docs/api.md).

import { refusalText, readableTimes } from './refusal';
import { t } from './i18n.svelte';
import type {
  Attachment,
  MessageEdit,
  Reaction,
  AuditEntry,
  AuditQuery,
  ClassSession,
  ConsoleInfo,
  Flag,
  Participation,
  Conversation,
  Member,
  Message,
  Mute,
  SearchQuery,
  SearchResult,
  ServerFrame,
  ServerInfo,
  SessionInfo,
  Settings,
  User,
} from './types';

/** A failed request, carrying the server's error envelope (or a network failure). */
/**
 * JSON.parse reviver for everything the server sends: the wire omits a message's
 * empty fields (edited_at, reply_to, reply_count, mentions, mention_all, reactions,
 * attachments; docs/api.md), and this fills them in once, at the boundary, so the
 * rest of the client can rely on them.
 */
export function withMessageDefaults(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const m = value as Record<string, unknown>;
    if ('seq' in m && 'sender' in m && 'body' in m && 'conversation_id' in m && 'client_id' in m) {
      m.edited_at ??= null;
      m.reply_to ??= null;
      m.reply_count ??= 0;
      m.mentions ??= [];
      m.mention_all ??= false;
      m.reactions ??= [];
      m.attachments ??= [];
    }
  }
  return value;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | null;
  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Turns any thrown value into a sentence a person can read. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return refusalText(err.code, err.message, err.retryAfter);
  if (err instanceof Error && err.message) return err.message;
  return t('refusal.something_wrong');
}

/** The wait in a slow-mode refusal ("slow mode: wait 12 s"), in seconds; null when there is none. */
export function slowModeWait(message: string | undefined | null): number | null {
  const m = /slow mode\b.*?\bwait\s+(\d+)\s*s/i.exec(message ?? '');
  return m ? Number(m[1]) : null;
}

/** The end time in a mute refusal ("you are muted in this conversation until <time>"), as ISO; null if unreadable. */
export function mutedUntil(message: string | undefined | null): string | null {
  const m = /\bmuted\b.*?\buntil\s+(.+?)\s*\.?\s*$/i.exec(message ?? '');
  if (!m) return null;
  // RFC 3339 as sent, or Go's "2006-01-02 15:04:05 +0000 UTC".
  const t = /(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?)\s*(Z|[+-]\d{2}:?\d{2})?/.exec(m[1]);
  const iso = t ? `${t[1]}T${t[2]}${t[3] ? (t[3] === 'Z' ? 'Z' : t[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : ''}` : m[1];
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A refusal's text with any RFC 3339 time in it shown as local clock time. */
export function readableRefusal(message: string): string {
  return readableTimes(message);
}

/** True for the refusal a non-admin gets while the professor has paused the class. */
export function isPausedRefusal(message: string | undefined | null): boolean {
  return /\bclass is paused\b/i.test(message ?? '');
}

type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export class Api {
  /** The CSRF token of the browser session; sent on every unsafe request. */
  csrf = '';
  private readonly base: string;
  private readonly fetchImpl: FetchLike;

  constructor(base = '', fetchImpl?: FetchLike) {
    this.base = base;
    this.fetchImpl = fetchImpl ?? ((input, init) => fetch(input, init));
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (UNSAFE.has(method) && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + '/api/v1' + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch {
      throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text, withMessageDefaults);
      } catch {
        data = undefined;
      }
    }
    if (!res.ok) {
      const env = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      const ra = res.headers.get('Retry-After');
      throw new ApiError(
        res.status,
        env?.code ?? 'http_' + res.status,
        env?.message ?? `The server answered ${res.status} ${res.statusText}`.trim(),
        ra && /^\d+$/.test(ra) ? Number(ra) : null,
      );
    }
    if (data === undefined && text) {
      throw new ApiError(res.status, 'bad_response', 'The server sent an answer this page cannot read.');
    }
    return data as T;
  }

  // --- session -------------------------------------------------------------
  private keep(s: SessionInfo): SessionInfo {
    this.csrf = s.csrf_token ?? '';
    return s;
  }
  async getSession(): Promise<SessionInfo> {
    return this.keep(await this.request<SessionInfo>('GET', '/session'));
  }
  async login(username: string, password: string): Promise<SessionInfo> {
    return this.keep(await this.request<SessionInfo>('POST', '/session', { username, password }));
  }
  async exchangeTicket(ticket: string): Promise<SessionInfo> {
    return this.keep(await this.request<SessionInfo>('POST', '/session/ticket', { ticket }));
  }
  async register(r: { username: string; password: string; display_name: string; join_code: string }): Promise<SessionInfo> {
    return this.keep(await this.request<SessionInfo>('POST', '/auth/register', { ...r, session: true }));
  }
  async guest(display_name: string, join_code: string): Promise<SessionInfo> {
    return this.keep(await this.request<SessionInfo>('POST', '/auth/guest', { display_name, join_code, session: true }));
  }
  async logout(): Promise<void> {
    try {
      await this.request<void>('DELETE', '/session');
    } finally {
      this.csrf = '';
    }
  }

  // --- everyone ------------------------------------------------------------
  info(): Promise<ServerInfo> {
    return this.request('GET', '/info');
  }
  me(): Promise<User> {
    return this.request('GET', '/me');
  }
  updateMe(patch: { display_name?: string; password?: string; current_password?: string }): Promise<User> {
    return this.request('PATCH', '/me', patch);
  }
  async conversations(): Promise<Conversation[]> {
    return (await this.request<{ conversations: Conversation[] }>('GET', '/conversations')).conversations ?? [];
  }
  conversation(id: number): Promise<Conversation> {
    return this.request('GET', `/conversations/${id}`);
  }
  createConversation(c: { name: string; kind?: 'group' | 'direct'; member_ids?: number[] }): Promise<Conversation> {
    return this.request('POST', '/conversations', c);
  }
  updateConversation(id: number, patch: { name?: string; locked?: boolean; auto_join?: boolean; slow_mode_seconds?: number }): Promise<Conversation> {
    return this.request('PATCH', `/conversations/${id}`, patch);
  }
  deleteConversation(id: number): Promise<void> {
    return this.request('DELETE', `/conversations/${id}`);
  }
  async members(id: number): Promise<Member[]> {
    return (await this.request<{ members: Member[] }>('GET', `/conversations/${id}/members`)).members ?? [];
  }
  addMember(id: number, user_id: number): Promise<Member> {
    return this.request('POST', `/conversations/${id}/members`, { user_id });
  }
  removeMember(id: number, user_id: number): Promise<void> {
    return this.request('DELETE', `/conversations/${id}/members/${user_id}`);
  }
  messages(id: number, q: { before_seq?: number; after_seq?: number; limit?: number }): Promise<{ messages: Message[]; has_more: boolean }> {
    const p = new URLSearchParams();
    if (q.before_seq !== undefined) p.set('before_seq', String(q.before_seq));
    if (q.after_seq !== undefined) p.set('after_seq', String(q.after_seq));
    if (q.limit !== undefined) p.set('limit', String(q.limit));
    const qs = p.toString();
    return this.request('GET', `/conversations/${id}/messages${qs ? '?' + qs : ''}`);
  }
  postMessage(id: number, body: string, client_id: string, extra: SendExtra = {}): Promise<Message> {
    return this.request('POST', `/conversations/${id}/messages`, { body, client_id, ...sendExtra(extra) });
  }

  // --- everyday: edit, reactions, replies, attachments (issue 8) -------------------
  /** Edits one's own message (within the class's edit window). */
  editMessage(id: number, body: string): Promise<Message> {
    return this.request('PATCH', `/messages/${id}`, { body });
  }
  /** Admin: each earlier text of a message, oldest first. */
  async messageEdits(id: number): Promise<MessageEdit[]> {
    return (await this.request<{ edits?: MessageEdit[] }>('GET', `/messages/${id}/edits`)).edits ?? [];
  }
  /** Adds the caller's reaction; answers the message's whole list. */
  async react(id: number, emoji: string): Promise<Reaction[]> {
    return (await this.request<{ reactions?: Reaction[] }>('PUT', `/messages/${id}/reactions/${encodeURIComponent(emoji)}`)).reactions ?? [];
  }
  /** Removes the caller's reaction; answers the message's whole list. */
  async unreact(id: number, emoji: string): Promise<Reaction[]> {
    return (await this.request<{ reactions?: Reaction[] }>('DELETE', `/messages/${id}/reactions/${encodeURIComponent(emoji)}`)).reactions ?? [];
  }
  /** A message and its replies, oldest first. */
  async replies(id: number, q: { limit?: number; after_seq?: number } = {}): Promise<{ message: Message; replies: Message[]; has_more: boolean }> {
    const p = new URLSearchParams();
    if (q.limit !== undefined) p.set('limit', String(q.limit));
    if (q.after_seq !== undefined) p.set('after_seq', String(q.after_seq));
    const qs = p.toString();
    const r = await this.request<{ message: Message; replies?: Message[]; has_more?: boolean }>('GET', `/messages/${id}/replies${qs ? '?' + qs : ''}`);
    return { message: r.message, replies: r.replies ?? [], has_more: r.has_more ?? false };
  }
  /**
   * Uploads one file (the raw bytes, not multipart) with XMLHttpRequest, for its
   * progress events. `abort()` cancels it (the promise then rejects with code "aborted").
   */
  upload(conversationId: number, file: Blob & { name?: string }, onProgress?: (loaded: number, total: number) => void, XHR?: XhrCtor): { promise: Promise<Attachment>; abort: () => void } {
    const Impl = XHR ?? (globalThis as unknown as { XMLHttpRequest: XhrCtor }).XMLHttpRequest;
    const xhr = new Impl();
    const name = file.name || 'file';
    const url = `${this.base}/api/v1/attachments?conversation_id=${encodeURIComponent(String(conversationId))}&name=${encodeURIComponent(name)}`;
    const promise = new Promise<Attachment>((resolve, reject) => {
      xhr.open('POST', url);
      xhr.withCredentials = true;
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      if (this.csrf) xhr.setRequestHeader('X-CSRF-Token', this.csrf);
      if (xhr.upload && onProgress) {
        xhr.upload.onprogress = (e: { loaded: number; total: number; lengthComputable?: boolean }) => onProgress(e.loaded, e.lengthComputable === false ? file.size : e.total || file.size);
      }
      xhr.onload = () => {
        let data: unknown;
        try {
          data = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
        } catch {
          data = undefined;
        }
        if (xhr.status >= 200 && xhr.status < 300 && data && typeof data === 'object') {
          onProgress?.(file.size, file.size);
          resolve(data as Attachment);
          return;
        }
        const env = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
        const fallback =
          xhr.status === 413 ? 'The file is too large.' : xhr.status >= 200 && xhr.status < 300 ? 'The server sent an answer this page cannot read.' : `The server answered ${xhr.status}`;
        reject(new ApiError(xhr.status, env?.code ?? 'http_' + xhr.status, env?.message ?? fallback));
      };
      xhr.onerror = () => reject(new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.'));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
      xhr.send(file);
    });
    return { promise, abort: () => xhr.abort() };
  }
  deleteMessage(id: number): Promise<void> {
    return this.request('DELETE', `/messages/${id}`);
  }
  markRead(id: number, seq: number): Promise<void> {
    return this.request('POST', `/conversations/${id}/read`, { seq });
  }

  // --- moderation (owners in their conversation, admins everywhere) ---------
  /** Mutes a member for 1–10080 minutes. */
  mute(conversationId: number, user_id: number, minutes: number): Promise<{ user_id: number; until: string }> {
    return this.request('POST', `/conversations/${conversationId}/mutes`, { user_id, minutes });
  }
  unmute(conversationId: number, userId: number): Promise<void> {
    return this.request('DELETE', `/conversations/${conversationId}/mutes/${userId}`);
  }
  async mutes(conversationId: number): Promise<Mute[]> {
    return (await this.request<{ mutes: Mute[] }>('GET', `/conversations/${conversationId}/mutes`)).mutes ?? [];
  }
  /** 0 turns slow mode off; at most 3600. */
  setSlowMode(conversationId: number, seconds: number): Promise<Conversation> {
    return this.updateConversation(conversationId, { slow_mode_seconds: seconds });
  }
  pin(messageId: number): Promise<void> {
    return this.request('POST', `/messages/${messageId}/pin`);
  }
  unpin(messageId: number): Promise<void> {
    return this.request('DELETE', `/messages/${messageId}/pin`);
  }
  async pins(conversationId: number): Promise<Message[]> {
    return (await this.request<{ messages: Message[] }>('GET', `/conversations/${conversationId}/pins`)).messages ?? [];
  }

  // --- admin ---------------------------------------------------------------
  async users(q = ''): Promise<User[]> {
    return (await this.request<{ users: User[] }>('GET', '/users' + (q ? '?q=' + encodeURIComponent(q) : ''))).users ?? [];
  }
  createUser(u: { username: string; password: string; display_name: string; role: string }): Promise<User> {
    return this.request('POST', '/users', u);
  }
  updateUser(id: number, patch: { display_name?: string; role?: string; disabled?: boolean; password?: string }): Promise<User> {
    return this.request('PATCH', `/users/${id}`, patch);
  }
  deleteUser(id: number): Promise<void> {
    return this.request('DELETE', `/users/${id}`);
  }
  settings(): Promise<Settings> {
    return this.request('GET', '/settings');
  }
  updateSettings(patch: Partial<Settings> & { rotate_join_code?: boolean }): Promise<Settings> {
    return this.request('PATCH', '/settings', patch);
  }
  console(): Promise<ConsoleInfo> {
    return this.request('GET', '/console');
  }
  /** Posts the same message into every group conversation. */
  async announce(body: string): Promise<Message[]> {
    return (await this.request<{ messages: Message[] }>('POST', '/announcements', { body })).messages ?? [];
  }
  /** The audit log, newest first; page on with before_id = the last id seen. */
  async audit(q: AuditQuery = {}): Promise<{ entries: AuditEntry[]; has_more: boolean }> {
    const p = new URLSearchParams();
    if (q.action) p.set('action', q.action);
    if (q.actor_id !== undefined) p.set('actor_id', String(q.actor_id));
    if (q.limit !== undefined) p.set('limit', String(q.limit));
    if (q.before_id !== undefined) p.set('before_id', String(q.before_id));
    const qs = p.toString();
    const r = await this.request<{ entries?: AuditEntry[]; has_more?: boolean }>('GET', `/audit${qs ? '?' + qs : ''}`);
    return { entries: r.entries ?? [], has_more: r.has_more ?? false };
  }

  // --- oversight: class sessions, flags and reports, participation --------------
  /** Starts a class session (409 while one is active). */
  startSession(name: string, ends_at?: string | null): Promise<ClassSession> {
    return this.request('POST', '/sessions', ends_at ? { name, ends_at } : { name });
  }
  /** Every session, newest first. */
  async sessions(): Promise<ClassSession[]> {
    return (await this.request<{ sessions?: ClassSession[] }>('GET', '/sessions')).sessions ?? [];
  }
  endSession(id: number): Promise<ClassSession | undefined> {
    return this.request('POST', `/sessions/${id}/end`);
  }
  /** Reports a message to the professor (409 if the caller already did). */
  report(messageId: number, reason: string): Promise<unknown> {
    return this.request('POST', `/messages/${messageId}/report`, { reason });
  }
  async flags(status: 'open' | 'resolved' = 'open'): Promise<Flag[]> {
    return (await this.request<{ flags?: Flag[] }>('GET', `/flags?status=${status}`)).flags ?? [];
  }
  resolveFlag(id: number, note?: string): Promise<unknown> {
    return this.request('POST', `/flags/${id}/resolve`, note ? { note } : {});
  }
  async participation(q: { since?: string; until?: string } = {}): Promise<Participation> {
    const r = await this.request<Partial<Participation>>('GET', `/participation?${participationQuery('json', q)}`);
    return { since: r.since ?? null, until: r.until ?? null, rows: r.rows ?? [] };
  }

  // --- search, mentions, notification mutes (issue 8) -----------------------------
  /** Full-text search, newest first; page on with offset while has_more. */
  async search(q: SearchQuery): Promise<{ results: SearchResult[]; has_more: boolean }> {
    const r = await this.request<{ results?: SearchResult[]; has_more?: boolean }>('GET', `/search?${searchQuery(q)}`);
    return { results: r.results ?? [], has_more: r.has_more ?? false };
  }
  /** Messages that mention the caller, newest first; page on with before_id = the last id seen. */
  async mentions(q: { before_id?: number; limit?: number } = {}): Promise<{ messages: Message[]; has_more: boolean }> {
    const p = new URLSearchParams();
    if (q.limit !== undefined) p.set('limit', String(q.limit));
    if (q.before_id !== undefined) p.set('before_id', String(q.before_id));
    const qs = p.toString();
    const r = await this.request<{ messages?: Message[]; has_more?: boolean }>('GET', `/mentions${qs ? '?' + qs : ''}`);
    return { messages: r.messages ?? [], has_more: r.has_more ?? false };
  }
  /** The caller's own notification mute for one conversation. */
  setNotificationsMuted(conversationId: number, muted: boolean): Promise<void> {
    return this.request('PUT', `/conversations/${conversationId}/notifications`, { muted });
  }
}

/** The query string of GET /search: the text as typed (URL-encoded, never interpreted here), filters only when set. */
export function searchQuery(q: SearchQuery): string {
  const p = new URLSearchParams();
  p.set('q', q.q);
  if (q.conversation_id !== undefined) p.set('conversation_id', String(q.conversation_id));
  if (q.sender_id !== undefined) p.set('sender_id', String(q.sender_id));
  if (q.after) p.set('after', q.after);
  if (q.before) p.set('before', q.before);
  if (q.limit !== undefined) p.set('limit', String(q.limit));
  if (q.offset) p.set('offset', String(q.offset));
  return p.toString();
}

// --- oversight: sessions, flags, exports (admin; transcripts also owners) ----------

export type ExportFormat = 'json' | 'csv' | 'html';

/** The query string of a participation request; empty values are left out. */
function participationQuery(format: 'json' | 'csv', q: { since?: string; until?: string }): string {
  const p = new URLSearchParams({ format });
  if (q.since) p.set('since', q.since);
  if (q.until) p.set('until', q.until);
  return p.toString();
}

/** The address of the participation CSV (a plain link: cookie auth works for GET). */
export function participationCsvUrl(q: { since?: string; until?: string } = {}, base = ''): string {
  return `${base}/api/v1/participation?${participationQuery('csv', q)}`;
}

/** The address of a class session's transcript download (every conversation during the session). */
export function sessionTranscriptUrl(sessionId: number, format: ExportFormat, base = ''): string {
  return `${base}/api/v1/sessions/${sessionId}/transcript?format=${format}`;
}

/** The address of a conversation's transcript download. */
export function transcriptUrl(conversationId: number, format: ExportFormat, base = ''): string {
  return `${base}/api/v1/conversations/${conversationId}/transcript?format=${format}`;
}

// --- client ids ---------------------------------------------------------------

/** A random client_id. crypto.randomUUID needs a secure context, which a
 * classroom's http://192.168.x.y:8080 is not; getRandomValues works everywhere. */
export function newClientId(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'w' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// --- backoff ------------------------------------------------------------------

/** Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, random: () => number, base = 500, cap = 30_000): number {
  const exp = Math.min(cap, base * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.floor(random() * exp);
}

// --- WebSocket ------------------------------------------------------------------

export type ConnState = 'connecting' | 'online' | 'offline' | 'stopped';

export interface PendingSend {
  client_id: string;
  conversation_id: number;
  body: string;
  created_at: string;
  /** The id of the message this one replies to (kept so a resend carries it too). */
  reply_to?: number;
  /** Uploaded attachments bound to this message. */
  attachment_ids?: number[];
}

/** The optional parts of a send (REST body and WebSocket frame alike). */
export interface SendExtra {
  reply_to?: number;
  attachment_ids?: number[];
}

/** Only the fields that are set: the server rejects unknown and, for strictness, we send no empty ones. */
export function sendExtra(x: SendExtra): SendExtra {
  const out: SendExtra = {};
  if (typeof x.reply_to === 'number' && x.reply_to > 0) out.reply_to = x.reply_to;
  if (Array.isArray(x.attachment_ids) && x.attachment_ids.length) out.attachment_ids = [...x.attachment_ids];
  return out;
}

/** The `send` frame of a pending message. */
export function sendFrame(p: PendingSend): Record<string, unknown> {
  return { type: 'send', conversation_id: p.conversation_id, client_id: p.client_id, body: p.body, ...sendExtra(p) };
}

/** What upload() needs of XMLHttpRequest (a fake in tests). */
export interface XhrLike {
  status: number;
  responseText: string;
  withCredentials: boolean;
  upload?: { onprogress: ((e: { loaded: number; total: number; lengthComputable?: boolean }) => void) | null } | null;
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: unknown): void;
  abort(): void;
}
export type XhrCtor = new () => XhrLike;

interface WebSocketLike {
  readyState: number;
  /** The subprotocol the server chose ('' when none). */
  protocol?: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface SocketOptions {
  url: string | (() => string);
  onFrame: (frame: ServerFrame) => void;
  onState?: (state: ConnState, info: { attempt: number; delay?: number; code?: number }) => void;
  /** The server closed with 4401: the session is gone. No more reconnects. */
  onAuthLost?: () => void;
  /** Outbox persistence (e.g. localStorage), so a reload while offline loses nothing. */
  persist?: { load(): PendingSend[]; save(list: PendingSend[]): void };
  WebSocketImpl?: new (url: string, protocols?: string | string[]) => WebSocketLike;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  baseDelay?: number;
  maxDelay?: number;
}

const OPEN = 1;

export class ChatSocket {
  state: ConnState = 'stopped';
  attempt = 0;
  private ws: WebSocketLike | null = null;
  private timer: unknown = null;
  private retryTimer: unknown = null;
  private readonly subs = new Map<number, number>();
  private outbox: PendingSend[] = [];
  private ready = false;
  private readonly o: Required<Omit<SocketOptions, 'persist' | 'onAuthLost' | 'onState'>> &
    Pick<SocketOptions, 'persist' | 'onAuthLost' | 'onState'>;

  constructor(opts: SocketOptions) {
    this.o = {
      WebSocketImpl: (globalThis as unknown as { WebSocket: new (url: string, protocols?: string | string[]) => WebSocketLike }).WebSocket,
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      baseDelay: 500,
      maxDelay: 30_000,
      ...opts,
    };
    this.outbox = this.o.persist?.load() ?? [];
  }

  /** Opens the connection (and keeps it open until stop()). */
  start(): void {
    if (this.state !== 'stopped') return;
    this.connect();
  }

  /** Closes for good (sign out). Keeps nothing. */
  stop(): void {
    this.setState('stopped');
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
    this.subs.clear();
  }

  /** Reconnects now instead of waiting for the backoff timer (browser came back online, "Retry" button). */
  retryNow(): void {
    if (this.state !== 'offline') return;
    this.clearTimers();
    this.connect();
  }

  get isOnline(): boolean {
    return this.ready;
  }

  pending(conversationId?: number): PendingSend[] {
    return conversationId === undefined ? [...this.outbox] : this.outbox.filter((p) => p.conversation_id === conversationId);
  }

  lastSeq(conversationId: number): number | undefined {
    return this.subs.get(conversationId);
  }

  /** Subscribes from afterSeq (messages with a greater seq are replayed, then live). */
  subscribe(conversationId: number, afterSeq: number): void {
    const prev = this.subs.get(conversationId);
    this.subs.set(conversationId, Math.max(afterSeq, prev ?? 0));
    if (this.ready) this.raw({ type: 'subscribe', conversation_id: conversationId, after_seq: this.subs.get(conversationId) });
  }

  unsubscribe(conversationId: number): void {
    if (!this.subs.delete(conversationId)) return;
    if (this.ready) this.raw({ type: 'unsubscribe', conversation_id: conversationId });
  }

  subscriptions(): Map<number, number> {
    return new Map(this.subs);
  }

  /** Records that every message up to seq has been seen (e.g. fetched over REST). */
  seen(conversationId: number, seq: number): void {
    const cur = this.subs.get(conversationId);
    if (cur !== undefined && seq > cur) this.subs.set(conversationId, seq);
  }

  /** Queues a message; it is sent now if connected, else after the next `ready`. */
  send(conversationId: number, body: string, clientId = newClientId(), extra: SendExtra = {}): PendingSend {
    const p: PendingSend = { client_id: clientId, conversation_id: conversationId, body, created_at: new Date().toISOString(), ...sendExtra(extra) };
    if (!this.outbox.some((x) => x.client_id === clientId)) {
      this.outbox.push(p);
      this.save();
    }
    if (this.ready) this.raw(sendFrame(p));
    return p;
  }

  /** Drops a pending message (the person discarded it). */
  discard(clientId: string): void {
    this.outbox = this.outbox.filter((p) => p.client_id !== clientId);
    this.save();
  }

  typing(conversationId: number): void {
    if (this.ready) this.raw({ type: 'typing', conversation_id: conversationId });
  }

  /** Sends `read`; answers false when offline (the caller may use REST instead). */
  read(conversationId: number, seq: number): boolean {
    if (!this.ready) return false;
    this.raw({ type: 'read', conversation_id: conversationId, seq });
    return true;
  }

  // --- internals ----------------------------------------------------------------

  private url(): string {
    return typeof this.o.url === 'function' ? this.o.url() : this.o.url;
  }

  private save(): void {
    this.o.persist?.save(this.outbox);
  }

  private setState(s: ConnState, info: { delay?: number; code?: number } = {}): void {
    this.state = s;
    this.o.onState?.(s, { attempt: this.attempt, ...info });
  }

  private clearTimers(): void {
    if (this.timer !== null) this.o.clearTimer(this.timer);
    if (this.retryTimer !== null) this.o.clearTimer(this.retryTimer);
    this.timer = this.retryTimer = null;
  }

  private connect(): void {
    this.timer = null;
    this.ready = false;
    this.setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = new this.o.WebSocketImpl(this.url(), [WS_PROTOCOL]);
    } catch {
      this.scheduleReconnect(1006);
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      for (const line of splitFrames(ev.data)) {
        let f: ServerFrame;
        try {
          f = JSON.parse(line, withMessageDefaults) as ServerFrame;
        } catch {
          continue;
        }
        this.handle(f);
        if (this.ws !== ws) return; // a frame's handler replaced the socket
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      if (ev.code === 4401) {
        this.clearTimers();
        this.setState('stopped', { code: ev.code });
        this.o.onAuthLost?.();
        return;
      }
      this.scheduleReconnect(ev.code);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect(code: number): void {
    if (this.state === 'stopped') return;
    this.attempt++;
    const delay = backoffDelay(this.attempt, this.o.random, this.o.baseDelay, this.o.maxDelay);
    this.setState('offline', { delay, code });
    this.timer = this.o.setTimer(() => this.connect(), delay);
  }

  private handle(f: ServerFrame): void {
    switch (f.type) {
      case 'ready':
        this.ready = true;
        this.ownerId = f.user?.id ?? null;
        this.attempt = 0;
        this.setState('online');
        // Resume every subscription from its last seen seq, then resend the outbox
        // with the same client_ids: the server acks a stored one again, stores nothing twice.
        for (const [id, seq] of this.subs) this.raw({ type: 'subscribe', conversation_id: id, after_seq: seq });
        for (const p of this.outbox) this.raw(sendFrame(p));
        break;
      case 'message': {
        const m = f.message;
        const cur = this.subs.get(m.conversation_id);
        if (cur !== undefined && m.seq > cur) this.subs.set(m.conversation_id, m.seq);
        if (m.client_id && this.outbox.some((p) => p.client_id === m.client_id && p.conversation_id === m.conversation_id)) {
          // Our own message came back on the stream (e.g. after a reconnect, before the ack).
          // Only drop it from the outbox when it is our own: client_ids are scoped per sender.
          if (this.ownerId !== null && m.sender.id === this.ownerId) this.discard(m.client_id);
        }
        break;
      }
      case 'subscribed': {
        const cur = this.subs.get(f.conversation_id);
        if (cur !== undefined && !f.has_more && f.last_seq > cur) this.subs.set(f.conversation_id, f.last_seq);
        break;
      }
      case 'ack':
        this.discard(f.client_id);
        break;
      case 'error':
        if (f.client_id) {
          // Slow mode is a refusal with a wait, not a flood limit: retrying every second
          // would only be refused again. Report it (the person sees the wait and may retry).
          if (f.code === 'rate_limited' && slowModeWait(f.message) === null) {
            // Not stored: try again with the same client_id a little later.
            const p = this.outbox.find((x) => x.client_id === f.client_id);
            if (p) {
              this.retryTimer = this.o.setTimer(() => {
                this.retryTimer = null;
                if (this.ready && this.outbox.includes(p)) {
                  this.raw(sendFrame(p));
                }
              }, 1000 + Math.floor(this.o.random() * 1000));
            }
            return; // the store keeps showing it as pending
          }
          this.discard(f.client_id);
        }
        break;
    }
    this.o.onFrame(f);
  }

  /** The signed-in user's id (from `ready`), to recognise own messages. */
  ownerId: number | null = null;

  private raw(frame: Record<string, unknown>): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      /* the close handler reconnects */
    }
  }
}

/** ws://host/api/v1/ws or wss:// for the page's own origin. */
/**
 * The WebSocket subprotocol the client asks for: the server may then join several
 * frames in one message, one JSON object per line, and sends presence as lists
 * (`presence_snapshot`, `presence_changes`) instead of one frame per user.
 */
export const WS_PROTOCOL = 'teamchat.v2';

/** The frames of one WebSocket message: one, or several separated by newlines (JSON text never holds a raw newline). */
export function splitFrames(data: string): string[] {
  return data.includes('\n') ? data.split('\n').filter((l) => l !== '') : [data];
}

export function socketUrl(loc: { protocol: string; host: string } = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/v1/ws`;
}
