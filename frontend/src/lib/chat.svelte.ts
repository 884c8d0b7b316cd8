// Application state: the signed-in user, conversations, messages per
// conversation, presence, typing and the connection, all driven by the api
// module. Components read this object and call its methods; nothing else
// talks to the server.

import {
  Api,
  ApiError,
  ChatSocket,
  errorText,
  isPausedRefusal,
  mutedUntil,
  newClientId,
  slowModeWait,
  socketUrl,
  type ConnState,
  type PendingSend,
  type SendExtra,
} from './api';
import { clock } from './format';
import { NetTransport, type TransportKind } from './transport';
import { t } from './i18n.svelte';
import { refusalText } from './refusal';
import { SubscriptionBook, markFeedDeleted, mergeFeed } from './live';
import { submitSetup, type SetupInput } from './setup';
import { Hands } from './hands.svelte';
import { Questions } from './questions.svelte';
import { announceMessage, resetAnnouncer } from './announce.svelte';
import type { ClassSession, ClassSessionInfo, Conversation, Flag, Member, Message, ServerFrame, ServerInfo, SessionInfo, User } from './types';

export interface PendingView {
  client_id: string;
  conversation_id: number;
  body: string;
  created_at: string;
  status: 'pending' | 'failed';
  error?: string;
  reply_to?: number;
  attachment_ids?: number[];
}

/** An open thread panel: a message and its replies (GET /messages/{id}/replies, then live). */
export interface Thread {
  conversation_id: number;
  parent: Message;
  replies: Message[];
  loading: boolean;
  error: string;
}

export interface Room {
  messages: Message[];
  hasMore: boolean;
  loaded: boolean;
  loadingOlder: boolean;
  error: string;
  typing: Record<number, { user: User; until: number }>;
}

export type Route =
  | { view: 'home' }
  | { view: 'chat'; id: number }
  | { view: 'users' }
  | { view: 'settings' }
  | { view: 'console' }
  | { view: 'audit' }
  | { view: 'trash' }
  | { view: 'flags' }
  | { view: 'participation' }
  | { view: 'live' }
  | { view: 'search' }
  | { view: 'mentions' };

export interface Toast {
  id: number;
  text: string;
  kind: 'error' | 'info';
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const m = /^c\/(\d+)$/.exec(h);
  if (m) return { view: 'chat', id: Number(m[1]) };
  if (h === 'users') return { view: 'users' };
  if (h === 'settings') return { view: 'settings' };
  if (h === 'console') return { view: 'console' };
  if (h === 'audit') return { view: 'audit' };
  if (h === 'trash') return { view: 'trash' };
  if (h === 'flags') return { view: 'flags' };
  if (h === 'participation') return { view: 'participation' };
  if (h === 'live') return { view: 'live' };
  if (h === 'search') return { view: 'search' };
  if (h === 'mentions') return { view: 'mentions' };
  return { view: 'home' };
}

export function routeHash(r: Route): string {
  switch (r.view) {
    case 'chat':
      return `#c/${r.id}`;
    case 'home':
      return '#';
    default:
      return '#' + r.view;
  }
}

const PAGE = 50;
/** Messages per conversation shown when the live feed opens. */
export const LIVE_BACKLOG = 20;

export class ChatApp {
  readonly api = new Api();
  readonly hands = new Hands(this.api); // hands.svelte.ts
  readonly questions = new Questions(this.api); // questions.svelte.ts
  socket: ChatSocket | null = null;

  phase = $state<'loading' | 'join' | 'app'>('loading');
  info = $state<ServerInfo | null>(null);
  infoError = $state('');
  me = $state<User | null>(null);
  conn = $state<ConnState>('stopped');
  /** WebSocket, or SSE + REST where WebSockets are blocked (transport.ts). */
  transport = $state<TransportKind>('websocket');
  readonly net = new NetTransport({ csrf: () => this.api.csrf, onTransport: (k) => (this.transport = k) });
  retryIn = $state(0);
  everOnline = $state(false);
  conversations = $state<Conversation[]>([]);
  rooms = $state<Record<number, Room>>({});
  members = $state<Record<number, Member[]>>({});
  lastMessage = $state<Record<number, Message | null>>({});
  pending = $state<PendingView[]>([]);
  presence = $state<Record<number, boolean>>({});
  presenceTick = $state(0);
  toasts = $state<Toast[]>([]);
  route = $state<Route>({ view: 'home' });
  now = $state(Date.now());
  joinCode = $state('');
  /** "Pause all": only admins may post (settings for admins, class_paused frames for everyone). */
  paused = $state(false);
  /** Active mutes: conversation → user → end (ISO). From frames, the mutes list, and refusals. */
  mutes = $state<Record<number, Record<number, string>>>({});
  /** Pinned messages per conversation, once loaded (GET …/pins), newest pin first. */
  pins = $state<Record<number, Message[]>>({});
  /** Slow mode: when (ms since epoch) the caller may post again in a conversation. */
  slowUntil = $state<Record<number, number>>({});
  /** The running class session (from /info and session_* frames), or null. */
  classSession = $state<ClassSessionInfo | null>(null);
  /** Shown on the join screen after the session ended (e.g. a guest cut off at the end of class). */
  joinNotice = $state('');
  /** Admins: the open flags (keyword matches and reports), newest first. */
  flags = $state<Flag[]>([]);
  flagsLoaded = $state(false);
  /** A message to scroll to and highlight (search results, mentions): ChatView reacts once `ready` (history loaded down to seq), then clears it. */
  focus = $state<{ conversationId: number; seq: number; ready: boolean } | null>(null);
  /** Called with every frame before the state applies it (lib/notify.ts listens here). */
  onFrameHook: ((f: ServerFrame) => void) | null = null;
  private mentionSeen = new Set<number>();
  private sessionEnded = false;
  /** Admins, #live: the last messages of every conversation, oldest first (see live.ts). */
  feed = $state<Message[]>([]);
  /** The live feed is open (its subscriptions are held). */
  liveActive = $state(false);
  liveLoading = $state(false);
  /** Who holds which subscription: the open conversation ('chat') and the live feed ('live'). */
  readonly subs = new SubscriptionBook();

  private readSeq: Record<number, number> = {};
  private subscribed: number | null = null;
  private toastId = 0;
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingSent = 0;

  /** Guests may chat but not create conversations (POST /conversations: admin, user). */
  get canCreate(): boolean {
    return this.me !== null && this.me.role !== 'guest';
  }

  get isAdmin(): boolean {
    return this.me?.role === 'admin';
  }

  // --- start-up ------------------------------------------------------------------

  async init(): Promise<void> {
    const url = new URL(location.href);
    const code = url.searchParams.get('code');
    if (code) this.joinCode = code;
    const ticket = url.searchParams.get('ticket');
    if (ticket) {
      url.searchParams.delete('ticket');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    }
    this.route = parseHash(location.hash);
    addEventListener('hashchange', () => this.onHash());
    addEventListener('online', () => {
      this.socket?.retryNow();
      this.net.wake();
    });
    // A page restored from the back/forward cache (phones do this) has a dead socket.
    addEventListener('pageshow', (e) => {
      if ((e as PageTransitionEvent).persisted) {
        this.socket?.retryNow();
        this.net.wake();
      }
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        this.socket?.retryNow();
        this.net.wake();
        this.scheduleRead();
      }
    });
    setInterval(() => (this.now = Date.now()), 1000);

    const infoP = this.loadInfo();
    let session: SessionInfo | null = null;
    try {
      session = ticket ? await this.api.exchangeTicket(ticket) : await this.api.getSession();
    } catch (e) {
      if (ticket) this.toast(t('state.auto_signin_failed', { error: errorText(e) }));
      else if (!(e instanceof ApiError && e.status === 401)) this.toast(errorText(e));
      if (ticket) {
        try {
          session = await this.api.getSession();
        } catch {
          session = null;
        }
      }
    }
    await infoP;
    if (session) await this.enter(session);
    else this.phase = 'join';
  }

  async loadInfo(): Promise<void> {
    try {
      this.info = await this.api.info();
      if (typeof this.info.paused === 'boolean') this.paused = this.info.paused;
      if (this.info.session !== undefined) this.classSession = this.info.session;
      this.infoError = '';
    } catch (e) {
      this.infoError = errorText(e);
    }
  }

  // --- joining --------------------------------------------------------------------

  async login(username: string, password: string): Promise<void> {
    await this.enter(await this.api.login(username.trim(), password));
  }

  async register(r: { username: string; password: string; display_name: string; join_code: string }): Promise<void> {
    await this.enter(await this.api.register({ ...r, username: r.username.trim(), display_name: r.display_name.trim(), join_code: r.join_code.trim() }));
  }

  async joinAsGuest(displayName: string, code: string): Promise<void> {
    await this.enter(await this.api.guest(displayName.trim(), code.trim()));
  }

  /** First run: create the class and the professor with the terminal's setup code, then open the console. */
  async completeSetup(input: SetupInput): Promise<void> {
    const s = await submitSetup(this.api, input);
    if (this.info) this.info = { ...this.info, name: input.class_name.trim(), setup_required: false };
    history.replaceState(history.state, '', location.pathname + location.search + '#console');
    await this.enter(s);
  }

  async logout(): Promise<void> {
    try {
      await this.api.logout();
    } catch (e) {
      this.toast(errorText(e));
    }
    this.leave();
  }

  /** Back to the join screen (logged out, or the session died). */
  private leave(): void {
    this.socket?.stop();
    this.net.stop();
    this.socket = null;
    this.me = null;
    this.conversations = [];
    this.rooms = {};
    this.members = {};
    this.lastMessage = {};
    this.pending = [];
    this.presence = {};
    this.mutes = {};
    this.pins = {};
    this.slowUntil = {};
    this.paused = false;
    this.flags = [];
    this.flagsLoaded = false;
    this.focus = null;
    this.mentionSeen.clear();
    resetAnnouncer();
    this.subscribed = null;
    this.subs.clear();
    this.feed = [];
    this.liveActive = false;
    this.conn = 'stopped';
    this.everOnline = false;
    this.phase = 'join';
    void this.loadInfo();
  }

  /** The server ended our session (socket 4401 or a 401): back to the join screen, saying why. */
  private sessionLost(): void {
    // A guest who joined during a class session is cut off when it ends.
    const classEnded = this.me?.role === 'guest' && (this.sessionEnded || this.classSession !== null);
    if (classEnded) this.joinNotice = t('state.class_ended');
    else this.toast(t('state.session_ended'));
    this.leave();
  }

  private async enter(s: SessionInfo): Promise<void> {
    this.me = s.user;
    this.joinNotice = '';
    this.sessionEnded = false;
    // The join code has done its job; keep the address bar clean.
    const url = new URL(location.href);
    if (url.searchParams.has('code')) {
      url.searchParams.delete('code');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    }
    const key = `teamchat.outbox.${s.user.id}`;
    this.socket = new ChatSocket({
      url: () => socketUrl(),
      WebSocketImpl: this.net.Impl,
      onFrame: (f) => this.onFrame(f),
      onState: (st, info) => {
        this.conn = st;
        this.retryIn = info.delay ?? 0;
        if (st === 'offline' && info.attempt >= 3 && info.attempt % 3 === 0) void this.checkSession();
      },
      onAuthLost: () => this.sessionLost(),
      persist: {
        load: () => {
          try {
            const v = JSON.parse(localStorage.getItem(key) ?? '[]');
            return Array.isArray(v) ? (v as PendingSend[]) : [];
          } catch {
            return [];
          }
        },
        save: (list) => {
          try {
            if (list.length) localStorage.setItem(key, JSON.stringify(list));
            else localStorage.removeItem(key);
          } catch {
            /* private mode: keep it in memory */
          }
        },
      },
    });
    this.pending = this.socket.pending().map((p) => ({ ...p, status: 'pending' as const }));
    this.phase = 'app';
    this.socket.start();
    void this.refreshPaused();
    if (this.isAdmin) void this.loadFlags();
    await this.loadConversations();
    this.onHash();
  }

  /** Admins read "paused" from the settings; everyone else learns it from /info (if the
   * server sends it there), `ready`, `class_paused` frames and refused sends. */
  private async refreshPaused(): Promise<void> {
    if (!this.isAdmin) return;
    try {
      const s = await this.api.settings();
      if (typeof s.paused === 'boolean') this.paused = s.paused;
    } catch {
      /* the banner follows the frames anyway */
    }
  }

  /** While offline for a while: is it the network, or did the session die? */
  private async checkSession(): Promise<void> {
    try {
      await this.api.getSession();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.sessionLost();
    }
  }

  // --- routing ----------------------------------------------------------------------

  navigate(r: Route): void {
    const h = routeHash(r);
    if (location.hash !== h && !(h === '#' && location.hash === '')) location.hash = h;
    else this.onHash();
  }

  private onHash(): void {
    const r = parseHash(location.hash);
    this.route = r;
    if (this.focus && !(r.view === 'chat' && r.id === this.focus.conversationId)) this.focus = null;
    if (this.phase !== 'app') return;
    if (r.view === 'chat') void this.open(r.id);
    else if (this.subscribed !== null) {
      this.release('chat', this.subscribed);
      this.subscribed = null;
    }
  }

  // --- conversations ------------------------------------------------------------------

  conversation(id: number): Conversation | undefined {
    return this.conversations.find((c) => c.id === id);
  }

  /** The name to show: a direct conversation is named after the other person. */
  title(c: Conversation): string {
    if (c.kind === 'direct') {
      const others = (this.members[c.id] ?? []).filter((m) => m.user.id !== this.me?.id);
      if (others.length) return others.map((m) => m.user.display_name).join(', ');
    }
    return c.name || 'Conversation';
  }

  async loadConversations(): Promise<void> {
    try {
      const list = await this.api.conversations();
      for (const c of list) this.readSeq[c.id] = Math.max(0, c.last_seq - (c.unread ?? 0));
      this.conversations = list;
      for (const c of list) if (c.last_message !== undefined) this.lastMessage[c.id] = c.last_message;
      await Promise.all(list.filter((c) => c.kind === 'direct' && !this.members[c.id]).map((c) => this.loadMembers(c.id, true)));
      void this.loadPreviews(list.filter((c) => c.last_seq > 0 && c.last_message === undefined && this.lastMessage[c.id] === undefined).map((c) => c.id));
      // New conversations join the live feed (and deleted ones leave it).
      void this.syncLive();
    } catch (e) {
      this.toast(t('state.load_conversations_failed', { error: errorText(e) }));
    }
  }

  private async loadPreviews(ids: number[]): Promise<void> {
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await this.refreshPreview(id);
    };
    await Promise.all([worker(), worker(), worker()]);
  }

  /** The preview fetch started in the current task, per conversation (see refreshPreview). */
  private previewNow = new Map<number, Promise<Message | null>>();

  /**
   * Fetches a conversation's newest message into its preview and returns it (null when there is none or
   * the fetch failed: a preview is cosmetic). Callers in the same task share one request: for an activity
   * frame both the notifier (whose message was it?) and the state (the preview) want it.
   */
  refreshPreview(id: number): Promise<Message | null> {
    const shared = this.previewNow.get(id);
    if (shared) return shared;
    const p = this.api.messages(id, { limit: 1 }).then(
      (r) => {
        const m = r.messages.at(-1) ?? null;
        this.lastMessage[id] = m;
        return m;
      },
      () => null,
    );
    this.previewNow.set(id, p);
    queueMicrotask(() => this.previewNow.delete(id));
    return p;
  }

  async loadMembers(id: number, quiet = false): Promise<Member[]> {
    try {
      const list = await this.api.members(id);
      this.members[id] = list;
      for (const m of list) {
        if (m.muted_until !== undefined) this.setMute(id, m.user.id, m.muted_until);
      }
      return list;
    } catch (e) {
      if (!quiet) this.toast(t('state.load_members_failed', { error: errorText(e) }));
      return this.members[id] ?? [];
    }
  }

  private membersLoading = new Set<number>();
  private refreshMembers(id: number): void {
    if (this.membersLoading.has(id)) return;
    this.membersLoading.add(id);
    void this.loadMembers(id, true).finally(() => this.membersLoading.delete(id));
  }

  /** True only when presence frames said so (a snapshot after ready, then changes). */
  isOnline(userId: number): boolean | undefined {
    return this.presence[userId] === true ? true : undefined;
  }

  unread(c: Conversation): number {
    return c.unread ?? 0;
  }

  private upsertConversation(c: Conversation): void {
    const i = this.conversations.findIndex((x) => x.id === c.id);
    if (i >= 0) {
      const old = this.conversations[i];
      // Frames carry the conversation, not the caller's view of it: keep our own
      // unread count and member role (a conversation_updated may hold the creator's role).
      this.conversations[i] = { ...old, ...c, unread: old.unread, member_role: old.member_role, unread_mentions: old.unread_mentions, notifications_muted: old.notifications_muted, last_seq: Math.max(old.last_seq, c.last_seq ?? 0) };
    } else {
      this.conversations.push(c);
    }
  }

  async createGroup(name: string, memberIds: number[]): Promise<Conversation> {
    const c = await this.api.createConversation({ name: name.trim(), kind: 'group', member_ids: memberIds });
    if (!this.conversation(c.id)) this.conversations.push({ ...c, unread: 0, member_role: c.member_role ?? 'owner' });
    this.navigate({ view: 'chat', id: c.id });
    return c;
  }

  async startDirect(user: User): Promise<Conversation> {
    const name = `${this.me?.display_name ?? ''} & ${user.display_name}`.slice(0, 64);
    const c = await this.api.createConversation({ name, kind: 'direct', member_ids: [user.id] });
    if (!this.conversation(c.id)) this.conversations.push({ ...c, unread: 0, member_role: c.member_role ?? 'member' });
    await this.loadMembers(c.id, true);
    this.navigate({ view: 'chat', id: c.id });
    return c;
  }

  /** People the caller may start a direct conversation with. */
  async contacts(q = ''): Promise<User[]> {
    const byId = new Map<number, User>();
    if (this.isAdmin) {
      for (const u of await this.api.users(q)) byId.set(u.id, u);
    } else {
      // Non-admins cannot list users: offer the members of shared conversations.
      await Promise.all(this.conversations.map((c) => (this.members[c.id] ? null : this.loadMembers(c.id, true))));
      for (const list of Object.values(this.members)) for (const m of list) byId.set(m.user.id, m.user);
    }
    const needle = q.trim().toLowerCase();
    return [...byId.values()]
      .filter((u) => u.id !== this.me?.id && !u.disabled)
      .filter((u) => !needle || u.display_name.toLowerCase().includes(needle) || u.username.toLowerCase().includes(needle))
      .sort((a, b) => a.display_name.localeCompare(b.display_name));
  }

  async setLocked(id: number, locked: boolean): Promise<void> {
    this.upsertConversation(await this.api.updateConversation(id, { locked }));
  }

  async renameConversation(id: number, name: string): Promise<void> {
    this.upsertConversation(await this.api.updateConversation(id, { name: name.trim() }));
  }

  async deleteConversation(id: number): Promise<void> {
    await this.api.deleteConversation(id);
    this.dropConversation(id);
  }

  async leaveConversation(id: number): Promise<void> {
    if (!this.me) return;
    await this.api.removeMember(id, this.me.id);
    if (!this.isAdmin) this.dropConversation(id);
    else {
      await this.loadConversations();
      await this.loadMembers(id, true);
    }
  }

  async addMember(id: number, userId: number): Promise<void> {
    await this.api.addMember(id, userId);
    await this.loadMembers(id);
  }

  async removeMember(id: number, userId: number): Promise<void> {
    await this.api.removeMember(id, userId);
    await this.loadMembers(id);
  }

  // --- moderation -----------------------------------------------------------------------

  /** Admins everywhere, owners in their own conversation. */
  canModerate(c: Conversation | undefined): boolean {
    return !!c && (this.isAdmin || c.member_role === 'owner');
  }

  private setMute(conversationId: number, userId: number, until: string | null): void {
    const cur = this.mutes[conversationId] ?? {};
    if (until && new Date(until).getTime() > Date.now()) cur[userId] = until;
    else delete cur[userId];
    this.mutes[conversationId] = cur;
  }

  /** The end of a member's mute (ISO), or null when they may write. */
  mutedUntil(conversationId: number, userId: number): string | null {
    const until = this.mutes[conversationId]?.[userId];
    return until && new Date(until).getTime() > Math.max(this.now, Date.now()) ? until : null;
  }

  async loadMutes(conversationId: number): Promise<void> {
    const list = await this.api.mutes(conversationId);
    const next: Record<number, string> = {};
    for (const m of list) if (new Date(m.until).getTime() > Date.now()) next[m.user.id] = m.until;
    this.mutes[conversationId] = next;
  }

  async mute(conversationId: number, userId: number, minutes: number): Promise<string> {
    const r = await this.api.mute(conversationId, userId, minutes);
    this.setMute(conversationId, r.user_id ?? userId, r.until);
    return r.until;
  }

  async unmute(conversationId: number, userId: number): Promise<void> {
    await this.api.unmute(conversationId, userId);
    this.setMute(conversationId, userId, null);
  }

  async setSlowMode(conversationId: number, seconds: number): Promise<void> {
    const c = await this.api.setSlowMode(conversationId, seconds);
    this.upsertConversation({ ...c, slow_mode_seconds: c.slow_mode_seconds ?? seconds });
  }

  async loadPins(conversationId: number): Promise<Message[]> {
    const list = await this.api.pins(conversationId);
    this.pins[conversationId] = list;
    return list;
  }

  async setPinned(m: Message, pinned: boolean): Promise<void> {
    if (pinned) await this.api.pin(m.id);
    else await this.api.unpin(m.id);
    this.markPinned(m.conversation_id, m.id, pinned, m);
  }

  private markPinned(conversationId: number, messageId: number, pinned: boolean, known?: Message): void {
    const m = this.rooms[conversationId]?.messages.find((x) => x.id === messageId);
    if (m) m.pinned = pinned;
    const list = this.pins[conversationId];
    if (!list) return;
    const i = list.findIndex((x) => x.id === messageId);
    if (!pinned) {
      if (i >= 0) list.splice(i, 1);
      return;
    }
    const msg = m ?? known;
    if (i >= 0) return;
    if (msg) list.unshift({ ...msg, pinned: true });
    else void this.loadPins(conversationId).catch(() => undefined);
  }

  /** Admin: pause or resume every conversation at once. */
  async setPaused(paused: boolean): Promise<void> {
    const s = await this.api.updateSettings({ paused });
    this.paused = typeof s.paused === 'boolean' ? s.paused : paused;
  }

  async announce(body: string): Promise<Message[]> {
    const list = await this.api.announce(body.trim());
    for (const m of list) {
      this.insert(m);
      // Our own announcement is not news to us; earlier unread messages stay unread.
      const c = this.conversation(m.conversation_id);
      if (c && (this.readSeq[c.id] ?? 0) >= m.seq - 1) {
        this.readSeq[c.id] = m.seq;
        c.unread = Math.max(0, c.last_seq - m.seq);
      }
    }
    return list;
  }

  // --- oversight: sessions, flags, reports ----------------------------------------------

  async startSession(name: string, endsAt: string | null): Promise<ClassSession> {
    const s = await this.api.startSession(name.trim(), endsAt);
    this.classSession = { id: s.id, name: s.name, started_at: s.started_at, ends_at: s.ends_at };
    return s;
  }

  async endSession(id: number): Promise<void> {
    await this.api.endSession(id);
    if (this.classSession?.id === id) this.classSession = null;
  }

  /** Reports someone else's message; a second report of the same message is not an error. */
  async report(m: Message, reason: string): Promise<'reported' | 'already'> {
    try {
      await this.api.report(m.id, reason.trim());
      return 'reported';
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) return 'already';
      throw e;
    }
  }

  async loadFlags(): Promise<void> {
    try {
      const list = await this.api.flags('open');
      // Keep a flag that arrived live while the list was loading.
      const have = new Set(list.map((f) => f.id));
      const live = this.flags.filter((f) => !have.has(f.id) && !f.resolved_at);
      this.flags = [...live, ...list].sort((a, b) => b.id - a.id);
      this.flagsLoaded = true;
    } catch (e) {
      if (this.route.view === 'flags') this.toast(t('state.load_flags_failed', { error: errorText(e) }));
    }
  }

  private addFlag(f: Flag): void {
    if (f.resolved_at) return;
    const i = this.flags.findIndex((x) => x.id === f.id);
    if (i >= 0) this.flags[i] = f;
    else this.flags = [f, ...this.flags].sort((a, b) => b.id - a.id);
  }

  async resolveFlag(id: number, note?: string): Promise<void> {
    try {
      await this.api.resolveFlag(id, note);
    } catch (e) {
      // Already resolved elsewhere (another tab, or the server resolved it with the deletion).
      if (!(e instanceof ApiError && (e.status === 404 || e.status === 409))) throw e;
    }
    this.flags = this.flags.filter((f) => f.id !== id);
  }

  /** Deletes a flagged message, then closes every open flag on it. */
  async deleteFlagged(f: Flag): Promise<void> {
    if (!f.message.deleted) {
      try {
        await this.api.deleteMessage(f.message.id);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
      }
      this.markDeleted(f.conversation.id, f.message.id);
    }
    for (const x of this.flags.filter((y) => y.message.id === f.message.id)) await this.resolveFlag(x.id, 'message deleted');
  }

  /** Why the caller cannot write here right now, or '' if they can. */
  blockReason(c: Conversation | undefined): string {
    if (!c) return t('state.not_member');
    if (this.paused && !this.isAdmin) return t('state.paused');
    const until = this.me ? this.mutedUntil(c.id, this.me.id) : null;
    if (until) return t('state.muted_until', { time: clock(until) });
    if (!this.canPost(c)) {
      return c.locked ? t('state.locked') : t('state.not_member');
    }
    return '';
  }

  /** Seconds left before slow mode lets the caller post again here (0 = now). */
  slowWait(conversationId: number): number {
    const t = this.slowUntil[conversationId] ?? 0;
    const now = Math.max(this.now, Date.now()); // `now` keeps it reactive; Date.now() keeps it exact
    return t > now ? Math.ceil((t - now) / 1000) : 0;
  }

  private dropConversation(id: number): void {
    this.conversations = this.conversations.filter((c) => c.id !== id);
    delete this.rooms[id];
    if (this.subscribed === id) this.subscribed = null;
    if (this.subs.drop(id)) this.socket?.unsubscribe(id);
    if (this.feed.some((m) => m.conversation_id === id)) this.feed = this.feed.filter((m) => m.conversation_id !== id);
    if (this.route.view === 'chat' && this.route.id === id) this.navigate({ view: 'home' });
  }

  // --- subscriptions and the live feed (#live) --------------------------------------------

  /** Lets one holder's subscription go; the socket unsubscribes only when nobody else holds it. */
  private release(owner: string, id: number): void {
    if (this.subs.release(owner, id)) this.socket?.unsubscribe(id);
  }

  /** Opens the live feed: every conversation the admin sees, with a short recent backlog, then live. */
  async startLive(): Promise<void> {
    if (this.liveActive) return;
    this.liveActive = true;
    await this.syncLive(true);
  }

  /** Closes the live feed; conversations held elsewhere (the open chat) stay subscribed. */
  stopLive(): void {
    if (!this.liveActive) return;
    this.liveActive = false;
    for (const id of this.subs.releaseAll('live')) this.socket?.unsubscribe(id);
  }

  /**
   * Subscribes the live feed to every listed conversation it does not hold yet (new ones
   * join the feed). `refresh`: fetch the recent page of every conversation again (on open,
   * and after a reconnect so deletions made while away show).
   */
  private async syncLive(refresh = false): Promise<void> {
    if (!this.liveActive || !this.isAdmin) return;
    const listed = new Set(this.conversations.map((c) => c.id));
    for (const id of this.subs.heldBy('live')) if (!listed.has(id)) this.release('live', id);
    const todo = this.conversations.filter((c) => refresh || !this.subs.holds('live', c.id)).map((c) => c.id);
    if (!todo.length) return;
    this.liveLoading = true;
    const worker = async () => {
      for (let id = todo.shift(); id !== undefined; id = todo.shift()) await this.liveJoin(id);
    };
    try {
      await Promise.all([worker(), worker(), worker(), worker()]);
    } finally {
      this.liveLoading = false;
    }
  }

  /** One conversation into the feed: the last LIVE_BACKLOG messages over REST, then subscribed after them. */
  private async liveJoin(id: number): Promise<void> {
    let newest = 0;
    try {
      const page = await this.api.messages(id, { limit: LIVE_BACKLOG });
      if (!this.liveActive || !this.conversation(id)) return;
      this.addToFeed(page.messages);
      newest = page.messages.at(-1)?.seq ?? 0;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        this.dropConversation(id);
        return;
      }
      // Live only for this one: subscribe from what the list says is the newest.
      newest = this.conversation(id)?.last_seq ?? 0;
    }
    if (!this.liveActive) return;
    const fresh = !this.subs.holds('live', id);
    this.subs.acquire('live', id);
    // Already subscribed (the open chat, or a refresh): the socket keeps its own seq and resumes from there.
    if (fresh && this.socket?.lastSeq(id) === undefined) this.socket?.subscribe(id, newest);
  }

  private addToFeed(list: Message[]): void {
    if (!list.length) return;
    this.feed = mergeFeed(this.feed, list);
  }

  // --- one conversation ------------------------------------------------------------------

  room(id: number): Room {
    let r = this.rooms[id];
    if (!r) {
      this.rooms[id] = { messages: [], hasMore: false, loaded: false, loadingOlder: false, error: '', typing: {} };
      r = this.rooms[id];
    }
    return r;
  }

  private async open(id: number): Promise<void> {
    if (this.subscribed !== null && this.subscribed !== id) this.release('chat', this.subscribed);
    this.subscribed = id;
    this.subs.acquire('chat', id);
    const room = this.room(id);
    room.error = '';
    void this.loadMembers(id, true);
    try {
      const page = await this.api.messages(id, { limit: PAGE });
      if (this.subscribed !== id) return;
      this.mergeNewest(room, page.messages);
      if (!room.loaded) room.hasMore = page.has_more;
      room.loaded = true;
      const newest = room.messages.at(-1)?.seq ?? 0;
      this.socket?.subscribe(id, newest);
      this.scheduleRead();
      if (this.focus?.conversationId === id) void this.loadFocus();
    } catch (e) {
      room.error = errorText(e);
      room.loaded = true;
      if (e instanceof ApiError && e.status === 404) {
        this.conversations = this.conversations.filter((c) => c.id !== id);
      }
    }
  }

  /** Replaces the newest part of the history with a fresh page (edits and deletions included). */
  private mergeNewest(room: Room, page: Message[]): void {
    if (!page.length) return;
    const first = page[0].seq;
    const older = room.messages.filter((m) => m.seq < first);
    const newer = room.messages.filter((m) => m.seq > page[page.length - 1].seq);
    // If the cached history does not reach the page, drop it: no gaps shown.
    const contiguous = older.length === 0 || older[older.length - 1].seq === first - 1;
    room.messages = [...(contiguous ? older : []), ...page, ...newer];
    if (!contiguous) room.hasMore = true;
    const last = room.messages.at(-1);
    if (last) this.lastMessage[last.conversation_id] = last;
  }

  /** Loads one page of older history; false (after saying why) when the server could not be asked. */
  async loadOlder(id: number, limit = PAGE): Promise<boolean> {
    const room = this.room(id);
    if (room.loadingOlder || !room.hasMore || !room.messages.length) return true;
    room.loadingOlder = true;
    try {
      const page = await this.api.messages(id, { before_seq: room.messages[0].seq, limit });
      const have = new Set(room.messages.map((m) => m.id));
      room.messages = [...page.messages.filter((m) => !have.has(m.id)), ...room.messages];
      room.hasMore = page.has_more;
      return true;
    } catch (e) {
      this.toast(t('state.load_older_failed', { error: errorText(e) }));
      return false;
    } finally {
      room.loadingOlder = false;
    }
  }

  private insert(m: Message): void {
    const room = this.rooms[m.conversation_id];
    if (room && room.loaded) {
      const list = room.messages;
      const last = list.at(-1);
      if (!last || m.seq > last.seq) list.push(m);
      else {
        const i = list.findIndex((x) => x.seq >= m.seq);
        if (list[i]?.seq === m.seq) list[i] = m;
        else if (i >= 0 && (list[0].seq < m.seq || !room.hasMore)) list.splice(i, 0, m);
      }
      delete room.typing[m.sender.id];
    }
    // Auto-joined newcomers (register/guest) arrive without a member_added frame:
    // a sender missing from a loaded member list means the list is stale.
    const known = this.members[m.conversation_id];
    if (known && !known.some((x) => x.user.id === m.sender.id)) this.refreshMembers(m.conversation_id);
    const c = this.conversation(m.conversation_id);
    if (c && m.seq > c.last_seq) c.last_seq = m.seq;
    const prev = this.lastMessage[m.conversation_id];
    if (!prev || prev.seq <= m.seq) this.lastMessage[m.conversation_id] = m;
  }

  pendingFor(id: number): PendingView[] {
    return this.pending.filter((p) => p.conversation_id === id);
  }

  /** A list entry without member_role (null, or omitted as this server does) means "not a member". */
  isMember(c: Conversation): boolean {
    return c.member_role === 'owner' || c.member_role === 'member';
  }

  canPost(c: Conversation | undefined): boolean {
    if (!c) return false;
    if (c.locked) return this.isAdmin || c.member_role === 'owner';
    return this.isMember(c) || this.isAdmin;
  }

  /** Shows the message at once as pending; the socket sends it now or after reconnecting.
   * With attachments the body may be empty; `reply_to` and `attachment_ids` stay in the pending record. */
  send(id: number, body: string, extra: SendExtra = {}): void {
    const text = body.trim();
    if ((!text && !extra.attachment_ids?.length) || !this.socket) return;
    const p = this.socket.send(id, text, newClientId(), extra);
    this.pending.push({ ...p, status: 'pending' });
    this.lastTypingSent = 0;
  }

  retry(clientId: string): void {
    const p = this.pending.find((x) => x.client_id === clientId);
    if (!p || !this.socket) return;
    p.status = 'pending';
    p.error = undefined;
    this.socket.send(p.conversation_id, p.body, p.client_id, { reply_to: p.reply_to, attachment_ids: p.attachment_ids });
  }

  discard(clientId: string): void {
    this.socket?.discard(clientId);
    this.pending = this.pending.filter((x) => x.client_id !== clientId);
  }

  async deleteMessage(m: Message): Promise<void> {
    await this.api.deleteMessage(m.id);
    this.markDeleted(m.conversation_id, m.id);
  }

  private markDeleted(conversationId: number, messageId: number): void {
    const room = this.rooms[conversationId];
    const m = room?.messages.find((x) => x.id === messageId);
    if (m) {
      m.deleted = true;
      m.body = '';
    }
    const last = this.lastMessage[conversationId];
    if (last && last.id === messageId) this.lastMessage[conversationId] = { ...last, deleted: true, body: '' };
    // A deleted message is never pinned (docs/api.md, Moderation).
    const pins = this.pins[conversationId];
    if (pins?.some((x) => x.id === messageId)) this.pins[conversationId] = pins.filter((x) => x.id !== messageId);
    if (m) m.pinned = false;
    this.afterDeleted(conversationId, messageId, m);
    for (const f of this.flags) if (f.message.id === messageId) f.message = { ...f.message, deleted: true, body: '' };
    const feed = markFeedDeleted(this.feed, messageId);
    if (feed) this.feed = feed;
  }

  typing(id: number): void {
    const t = Date.now();
    if (t - this.lastTypingSent < 2000) return;
    this.lastTypingSent = t;
    this.socket?.typing(id);
  }

  typingUsers(id: number): User[] {
    const room = this.rooms[id];
    if (!room) return [];
    return Object.values(room.typing)
      .filter((t) => t.until > this.now)
      .map((t) => t.user);
  }

  /** Marks the open conversation read (when the page is visible). */
  scheduleRead(): void {
    if (this.readTimer) clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      void this.markRead();
    }, 300);
  }

  private async markRead(): Promise<void> {
    // A timer may fire after the page (or a test's DOM) is gone.
    if (this.route.view !== 'chat' || typeof document === 'undefined' || document.visibilityState !== 'visible') return;
    const id = this.route.id;
    const c = this.conversation(id);
    const seq = this.rooms[id]?.messages.at(-1)?.seq ?? 0;
    if (!c || seq === 0) return;
    if ((this.readSeq[id] ?? 0) >= seq && !c.unread && !c.unread_mentions) return;
    this.readSeq[id] = seq;
    c.unread = Math.max(0, c.last_seq - seq);
    if (!c.unread) c.unread_mentions = 0;
    if (!this.socket?.read(id, seq)) {
      try {
        await this.api.markRead(id, seq);
      } catch {
        /* the badge comes back on the next load; nothing is lost */
      }
    }
  }

  // --- frames ------------------------------------------------------------------------------

  private onFrame(f: ServerFrame): void {
    try {
      this.onFrameHook?.(f);
    } catch {
      /* notifications are best effort; the state must still apply the frame */
    }
    switch (f.type) {
      case 'mentioned':
        announceMessage(f.message, this.conversation(f.conversation_id), this.me, this.isOpen(f.conversation_id));
        this.onMentioned(f.conversation_id, f.message);
        break;
      case 'question_asked':
      case 'question_updated':
      case 'question_removed':
        this.questions.apply(f);
        break;
      case 'hand_raised':
      case 'hand_lowered':
      case 'hand_cleared':
        if (this.hands.apply(f, this.me?.id)) this.toast(t('hands.your_turn_in', { name: this.conversation(f.conversation_id)?.name ?? t('state.a_conversation') }), 'info');
        break;
      case 'ready': {
        const again = this.everOnline;
        this.everOnline = true;
        if (f.user) {
          this.me = f.user;
          this.presence[f.user.id] = true;
        }
        if (typeof f.paused === 'boolean') this.paused = f.paused;
        if (again) {
          // Back after a disconnect: refresh the list (badges) and the open history
          // (deletions while away); the socket resumes subscriptions by seq itself.
          void this.loadConversations();
          void this.refreshPaused();
          void this.loadInfo();
          void this.hands.reload();
          void this.questions.reload();
          if (this.isAdmin) void this.loadFlags();
          if (this.route.view === 'chat' && this.subscribed === this.route.id) void this.refreshOpen(this.route.id);
          // The live feed: the socket resumed its subscriptions; fetch the recent pages again (deletions while away).
          if (this.liveActive) void this.syncLive(true);
        }
        break;
      }
      case 'message': {
        const m = f.message;
        if (m.sender.id === this.me?.id && m.client_id) this.pending = this.pending.filter((p) => p.client_id !== m.client_id);
        this.countReply(m);
        this.insert(m);
        this.onNewMessage(m);
        // Only the open conversation's messages: the live feed's are not the reader's to hear.
        if (this.isOpen(m.conversation_id)) announceMessage(m, this.conversation(m.conversation_id), this.me, true);
        if (this.liveActive) this.addToFeed([m]);
        break;
      }
      case 'message_edited':
        this.applyEdited(f.message);
        break;
      case 'reaction_added':
      case 'reaction_removed':
        this.applyReactions(f.conversation_id, f.message_id, f.reactions);
        break;
      case 'ack': {
        this.pending = this.pending.filter((p) => p.client_id !== f.client_id);
        this.countReply(f.message);
        this.insert(f.message);
        if (this.liveActive) this.addToFeed([f.message]);
        // Slow mode applies to members; show when the next message may go.
        const c = this.conversation(f.message.conversation_id);
        if (c?.slow_mode_seconds && !this.canModerate(c)) this.slowUntil[c.id] = Date.now() + c.slow_mode_seconds * 1000;
        break;
      }
      case 'error':
        if (f.client_id) {
          const p = this.pending.find((x) => x.client_id === f.client_id);
          if (p) {
            p.status = 'failed';
            p.error = refusalText(f.code, f.message);
            this.learnFromRefusal(p.conversation_id, f.code, f.message);
          }
        } else {
          if (f.conversation_id !== undefined) this.learnFromRefusal(f.conversation_id, f.code, f.message);
          this.toast(refusalText(f.code, f.message));
        }
        break;
      case 'member_muted': {
        this.setMute(f.conversation_id, f.user_id, f.until);
        if (f.user_id === this.me?.id) {
          const name = this.conversation(f.conversation_id)?.name ?? t('state.a_conversation');
          this.toast(f.until ? t('state.muted_in', { name, time: clock(f.until) }) : t('state.unmuted_in', { name }), 'info');
        }
        break;
      }
      case 'message_pinned':
        this.markPinned(f.conversation_id, f.message_id, f.pinned);
        break;
      case 'class_paused':
        // Pausing shows a banner; resuming only removes it, so say so.
        if (this.paused && !f.paused && !this.isAdmin) this.toast(t('state.resumed'), 'info');
        this.paused = f.paused;
        break;
      case 'message_deleted':
        this.markDeleted(f.conversation_id, f.message_id);
        break;
      case 'session_started':
        this.classSession = f.session;
        this.sessionEnded = false;
        if (!this.isAdmin) this.toast(t('state.session_started', { name: f.session.name }), 'info');
        break;
      case 'session_ended':
        if (!this.classSession || this.classSession.id === f.session.id) this.classSession = null;
        this.sessionEnded = true;
        if (this.me?.role !== 'guest' && !this.isAdmin) this.toast(t('state.session_over', { name: f.session.name }), 'info');
        break;
      case 'message_flagged':
        if (this.isAdmin) this.addFlag(f.flag);
        break;
      case 'typing': {
        if (f.user.id === this.me?.id) break;
        const room = this.rooms[f.conversation_id];
        if (room) room.typing[f.user.id] = { user: f.user, until: Date.now() + 4000 };
        break;
      }
      case 'presence':
        this.presence[f.user_id] = f.online;
        this.presenceTick++;
        break;
      case 'presence_snapshot': {
        // The whole list (after every ready): it replaces what an earlier connection left.
        const next: Record<number, boolean> = {};
        for (const id of f.user_ids) next[id] = true;
        if (this.me) next[this.me.id] = true;
        this.presence = next;
        this.presenceTick++;
        break;
      }
      case 'presence_changes':
        for (const id of f.online) this.presence[id] = true;
        for (const id of f.offline) if (id !== this.me?.id) this.presence[id] = false;
        this.presenceTick++;
        break;
      case 'conversation_updated':
        // Sent to members and admins; a new one (someone started a conversation with
        // us) is fetched with the list, which carries unread and member_role.
        if (this.conversation(f.conversation.id)) this.upsertConversation(f.conversation);
        else void this.loadConversations();
        break;
      case 'conversation_deleted':
        // The server ended our subscription itself (docs/api.md, Additions).
        if (this.conversation(f.conversation_id)) {
          if (this.route.view === 'chat' && this.route.id === f.conversation_id) this.toast(t('state.conversation_deleted'), 'info');
          this.dropConversation(f.conversation_id);
        }
        break;
      case 'member_added':
        if (f.user.id === this.me?.id) void this.loadConversations(); // new to us, or our role changed
        else if (this.members[f.conversation_id] && !this.members[f.conversation_id].some((m) => m.user.id === f.user.id)) {
          void this.loadMembers(f.conversation_id, true);
        }
        break;
      case 'member_removed':
        if (f.user.id === this.me?.id && !this.isAdmin) {
          this.toast(t('state.removed_from', { name: this.conversation(f.conversation_id)?.name ?? t('state.a_conversation') }), 'info');
          this.dropConversation(f.conversation_id);
        } else {
          if (f.user.id === this.me?.id) void this.loadConversations();
          if (this.members[f.conversation_id]) {
            this.members[f.conversation_id] = this.members[f.conversation_id].filter((m) => m.user.id !== f.user.id);
          }
        }
        break;
      case 'activity': {
        const c = this.conversation(f.conversation_id);
        if (!c) {
          void this.loadConversations();
          break;
        }
        if (f.last_seq > c.last_seq) {
          c.last_seq = f.last_seq;
          c.unread = Math.max(0, f.last_seq - (this.readSeq[c.id] ?? 0));
          const preview = this.refreshPreview(c.id);
          // A direct message elsewhere is announced; its text comes with the preview.
          if (c.kind === 'direct' && !this.isOpen(c.id)) void preview.then((m) => m && m.seq === f.last_seq && announceMessage(m, c, this.me, false));
        }
        break;
      }
      case 'subscribed':
        if (f.has_more) void this.fillGap(f.conversation_id, f.last_seq);
        break;
      case 'unsubscribed':
        break;
    }
  }

  /** A refused send tells the client something it may not have known (mute, pause, slow mode). */
  private learnFromRefusal(conversationId: number, code: string, message: string): void {
    const wait = code === 'rate_limited' ? slowModeWait(message) : null;
    if (wait !== null) this.slowUntil[conversationId] = Date.now() + wait * 1000;
    if (code === 'forbidden') {
      const until = mutedUntil(message);
      if (until && this.me) this.setMute(conversationId, this.me.id, until);
      if (isPausedRefusal(message)) this.paused = true;
    }
  }

  private onNewMessage(m: Message): void {
    const c = this.conversation(m.conversation_id);
    if (!c) return;
    const viewing = this.route.view === 'chat' && this.route.id === m.conversation_id && document.visibilityState === 'visible';
    if (m.sender.id === this.me?.id) {
      this.readSeq[c.id] = Math.max(this.readSeq[c.id] ?? 0, m.seq);
    } else if (viewing) {
      this.scheduleRead();
    } else {
      c.unread = Math.max(0, c.last_seq - (this.readSeq[c.id] ?? 0));
    }
  }

  /** After a backlog cut at 1,000 messages: fetch the rest over REST (docs/api.md, Additions). */
  private async fillGap(id: number, upTo: number): Promise<void> {
    const room = this.rooms[id];
    if (!room) return;
    let after = room.messages.at(-1)?.seq ?? 0;
    try {
      while (after < upTo) {
        const page = await this.api.messages(id, { after_seq: after, limit: 200 });
        for (const m of page.messages) if (m.seq <= upTo) this.insert(m);
        const last = page.messages.at(-1)?.seq;
        if (!last || !page.has_more) break;
        after = last;
      }
      this.socket?.seen(id, upTo);
    } catch (e) {
      this.toast(t('state.catch_up_failed', { error: errorText(e) }));
    }
  }

  private async refreshOpen(id: number): Promise<void> {
    try {
      const page = await this.api.messages(id, { limit: PAGE });
      const room = this.rooms[id];
      if (room) {
        // Keep anything newer that the resumed stream already delivered.
        for (const m of page.messages) {
          const have = room.messages.find((x) => x.id === m.id);
          if (have) {
            have.deleted = m.deleted;
            have.body = m.body;
            have.pinned = m.pinned;
            have.edited_at = m.edited_at;
            have.reactions = m.reactions;
            have.reply_count = m.reply_count;
            have.mentions = m.mentions;
            have.mention_all = m.mention_all;
            have.attachments = m.attachments;
          } else this.insert(m);
        }
      }
    } catch {
      /* the stream resumed anyway */
    }
  }

  // --- mentions, notification mutes, jumping to a message (issue 8) -------------------------

  /** Sum of unread mentions over every conversation (the sidebar's Mentions badge). */
  get totalMentions(): number {
    return this.conversations.reduce((n, c) => n + (c.unread_mentions ?? 0), 0);
  }

  /** The conversation is on screen. */
  private isOpen(id: number): boolean {
    return this.route.view === 'chat' && this.route.id === id;
  }

  /** A `mentioned` frame: one more unread mention, unless the conversation is on screen (it is read at once). */
  private onMentioned(conversationId: number, m: Message): void {
    if (this.mentionSeen.has(m.id)) return;
    this.mentionSeen.add(m.id);
    const c = this.conversation(conversationId);
    if (!c) {
      void this.loadConversations();
      return;
    }
    const prev = this.lastMessage[conversationId];
    if (!prev || prev.seq < m.seq) this.lastMessage[conversationId] = m;
    if ((this.readSeq[c.id] ?? 0) >= m.seq) return;
    const viewing = this.route.view === 'chat' && this.route.id === conversationId && typeof document !== 'undefined' && document.visibilityState === 'visible';
    if (viewing) this.scheduleRead();
    // Like the server's count: mentions above the read marker, which only members have.
    else if (this.isMember(c)) c.unread_mentions = (c.unread_mentions ?? 0) + 1;
  }

  /** Mutes or unmutes the caller's notifications for one conversation (PUT …/notifications). */
  async setNotificationsMuted(id: number, muted: boolean): Promise<void> {
    await this.api.setNotificationsMuted(id, muted);
    const c = this.conversation(id);
    if (c) c.notifications_muted = muted;
  }

  /** Opens a conversation at one message: loads the history down to it, then ChatView scrolls to it and highlights it. */
  focusMessage(conversationId: number, seq: number): void {
    this.focus = { conversationId, seq, ready: false };
    if (this.route.view !== 'chat' || this.route.id !== conversationId) this.navigate({ view: 'chat', id: conversationId });
    else void this.loadFocus();
  }

  /** Called when the focused conversation's room is loaded: load older history down to `seq`, then let ChatView show it. */
  private async loadFocus(): Promise<void> {
    const f = this.focus;
    if (!f || f.ready) return;
    const room = this.rooms[f.conversationId];
    if (!room?.loaded || room.error) return;
    const found = await this.loadUntil(f.conversationId, f.seq);
    if (this.focus !== f) return;
    if (found === 'found') f.ready = true;
    else {
      this.focus = null;
      if (found === 'gone') this.toast(t('state.message_gone'), 'info');
    }
  }

  // --- everyday: edit, reactions, replies and threads (issue 8) ------------------------------

  /** The message being edited inline (one at a time), or null. */
  editingId = $state<number | null>(null);
  /** The reply target of each conversation's composer. */
  replyTo = $state<Record<number, Message | null>>({});
  /** The open thread panel, or null. */
  thread = $state<Thread | null>(null);
  /** Replies already counted into their parent's reply_count (a reply comes as message and ack). */
  private countedReplies = new Set<number>();

  /** Minutes a sender may edit (from /info when the server sends it; 15 otherwise, the default). */
  get editWindowMinutes(): number {
    const w = this.info?.edit_window_minutes;
    return typeof w === 'number' && w >= 0 ? w : 15;
  }

  /** Own, not deleted, and (as far as this page knows) within the edit window. */
  canEdit(m: Message): boolean {
    if (!this.me || m.sender.id !== this.me.id || m.deleted) return false;
    const w = this.editWindowMinutes;
    if (w <= 0) return false;
    return Math.max(this.now, Date.now()) - new Date(m.created_at).getTime() < w * 60_000;
  }

  /** Saves an edit and applies the answer (the frame that follows changes nothing more). */
  async editMessage(m: Message, body: string): Promise<void> {
    const edited = await this.api.editMessage(m.id, body.trim());
    this.applyEdited(edited);
  }

  /** Adds or removes the caller's reaction; the server's whole list replaces ours. */
  async toggleReaction(m: Message, emoji: string): Promise<void> {
    const mine = !!this.me && (m.reactions ?? []).some((r) => r.emoji === emoji && r.user_ids.includes(this.me!.id));
    const list = mine ? await this.api.unreact(m.id, emoji) : await this.api.react(m.id, emoji);
    this.applyReactions(m.conversation_id, m.id, list);
  }

  /** Every loaded copy of a message (history, thread, pins, live feed, previews). */
  private copiesOf(conversationId: number, messageId: number): Message[] {
    const out: Message[] = [];
    const inRoom = this.rooms[conversationId]?.messages.find((x) => x.id === messageId);
    if (inRoom) out.push(inRoom);
    const t = this.thread;
    if (t && t.conversation_id === conversationId) {
      if (t.parent.id === messageId) out.push(t.parent);
      const r = t.replies.find((x) => x.id === messageId);
      if (r) out.push(r);
    }
    const pin = this.pins[conversationId]?.find((x) => x.id === messageId);
    if (pin) out.push(pin);
    const fed = this.feed.find((x) => x.id === messageId);
    if (fed) out.push(fed);
    return out;
  }

  /** A message_edited frame (or PATCH answer): the whole message as edited. */
  private applyEdited(e: Message): void {
    for (const m of this.copiesOf(e.conversation_id, e.id)) {
      m.body = e.body;
      m.edited_at = e.edited_at ?? m.edited_at ?? new Date().toISOString();
      if (e.mentions) m.mentions = e.mentions;
      if (e.mention_all !== undefined) m.mention_all = e.mention_all;
      if (e.reactions) m.reactions = e.reactions;
      if (e.attachments) m.attachments = e.attachments;
      if (typeof e.reply_count === 'number') m.reply_count = Math.max(e.reply_count, m.reply_count ?? 0);
    }
    const last = this.lastMessage[e.conversation_id];
    if (last && last.id === e.id) this.lastMessage[e.conversation_id] = { ...last, body: e.body, edited_at: e.edited_at };
    // Quotes of the edited message follow it.
    for (const m of this.rooms[e.conversation_id]?.messages ?? []) {
      if (m.reply_to?.id === e.id) m.reply_to = { ...m.reply_to, body: Array.from(e.body).slice(0, 200).join('') };
    }
  }

  /** reaction_added / reaction_removed carry the whole list: replace, never merge. */
  private applyReactions(conversationId: number, messageId: number, reactions: Message['reactions']): void {
    for (const m of this.copiesOf(conversationId, messageId)) m.reactions = reactions ?? [];
  }

  /** A new reply: one more on its parent, and into the open thread. Counted once per reply. */
  private countReply(m: Message): void {
    const parentId = m.reply_to?.id;
    if (!parentId || this.countedReplies.has(m.id)) return;
    const room = this.rooms[m.conversation_id];
    if (room?.messages.some((x) => x.id === m.id)) return; // already had it (a resumed stream)
    this.countedReplies.add(m.id);
    for (const p of this.copiesOf(m.conversation_id, parentId)) p.reply_count = (p.reply_count ?? 0) + 1;
    const t = this.thread;
    if (t && t.parent.id === parentId && !t.replies.some((x) => x.id === m.id)) t.replies.push(m);
  }

  /** Deletion side effects for replies: quotes go blank, the parent counts one reply less. */
  private afterDeleted(conversationId: number, messageId: number, m: Message | undefined): void {
    for (const x of this.rooms[conversationId]?.messages ?? []) {
      if (x.reply_to?.id === messageId) x.reply_to = { ...x.reply_to, deleted: true, body: '' };
    }
    const t = this.thread;
    if (t && t.conversation_id === conversationId) {
      const r = t.replies.find((x) => x.id === messageId);
      if (r && !r.deleted) {
        r.deleted = true;
        r.body = '';
      }
      if (t.parent.id === messageId) {
        t.parent.deleted = true;
        t.parent.body = '';
      }
    }
    const parentId = m?.reply_to?.id ?? t?.replies.find((x) => x.id === messageId)?.reply_to?.id;
    if (parentId) for (const p of this.copiesOf(conversationId, parentId)) p.reply_count = Math.max(0, (p.reply_count ?? 0) - 1);
    for (const x of this.copiesOf(conversationId, messageId)) {
      x.reactions = [];
      x.attachments = [];
      x.mentions = [];
    }
    if (this.replyTo[conversationId]?.id === messageId) this.replyTo[conversationId] = null;
    if (this.editingId === messageId) this.editingId = null;
  }

  /** Opens the thread panel of a message and loads its replies. */
  async openThread(m: Message): Promise<void> {
    const t: Thread = { conversation_id: m.conversation_id, parent: { ...m }, replies: [], loading: true, error: '' };
    this.thread = t;
    try {
      const r = await this.api.replies(m.id, { limit: 200 });
      if (this.thread?.parent.id !== m.id) return;
      const th = this.thread;
      const have = new Set(r.replies.map((x) => x.id));
      // Keep any reply that arrived live while loading.
      th.replies = [...r.replies, ...th.replies.filter((x) => !have.has(x.id))];
      if (r.message) th.parent = { ...r.message, reply_count: Math.max(r.message.reply_count ?? 0, th.replies.filter((x) => !x.deleted).length) };
      for (const x of r.replies) this.countedReplies.add(x.id);
    } catch (e) {
      if (this.thread?.parent.id === m.id) this.thread.error = errorText(e);
    } finally {
      if (this.thread?.parent.id === m.id) this.thread.loading = false;
    }
  }

  closeThread(): void {
    this.thread = null;
  }

  /**
   * Loads older history until the message with this seq is there, in pages sized to reach it (no gap, so
   * live messages still append): 'found', 'gone' (the history ends without it) or 'failed' (already said).
   */
  async loadUntil(conversationId: number, seq: number): Promise<'found' | 'gone' | 'failed'> {
    const room = this.rooms[conversationId];
    if (!room) return 'gone';
    for (let i = 0; i < 100; i++) {
      if (room.messages.some((x) => x.seq === seq)) return 'found';
      const first = room.messages[0]?.seq ?? 0;
      if (!room.hasMore || first <= seq) return 'gone';
      if (room.loadingOlder) {
        await new Promise((r) => setTimeout(r, 100)); // a scroll is loading the same page: let it land
        continue;
      }
      if (!(await this.loadOlder(conversationId, Math.min(200, Math.max(PAGE, first - seq + 10))))) return 'failed';
    }
    return room.messages.some((x) => x.seq === seq) ? 'found' : 'gone';
  }

  // --- toasts -------------------------------------------------------------------------------

  toast(text: string, kind: 'error' | 'info' = 'error'): void {
    const id = ++this.toastId;
    this.toasts.push({ id, text, kind });
    setTimeout(() => this.dismiss(id), kind === 'error' ? 8000 : 4000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }
}

export const app = new ChatApp();
