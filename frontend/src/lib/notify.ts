// Notifications: the tab title's unread count and browser notifications.
//
// Rules (issue 8): the title reads "(N) Class name", N = unread messages in the
// conversations not on screen (a muted conversation counts only its mentions).
// Browser notifications for new messages in conversations other than the open one
// (any conversation while the tab is hidden) and for mentions; never for the caller's
// own messages; never for a conversation whose notifications are muted, except
// mentions; at most one per conversation every 5 s (a burst is coalesced into one
// summary at the end of the window). Permission is asked only from a user gesture
// (enable()), never on page load. Everything the browser provides is injected, so the
// logic is tested with fakes.

import { t } from './i18n.svelte';
import { previewText } from './render';
import type { Conversation, Message, ServerFrame } from './types';

export const THROTTLE_MS = 5000;

/** The count in the tab title. `openId` is the conversation on screen; it counts only while the tab is hidden. */
export function unreadTitleCount(conversations: readonly Conversation[], openId: number | null, visible: boolean): number {
  let n = 0;
  for (const c of conversations) {
    if (visible && c.id === openId) continue;
    const unread = c.unread ?? 0;
    const mentions = c.unread_mentions ?? 0;
    n += c.notifications_muted ? mentions : Math.max(unread, mentions);
  }
  return n;
}

export function tabTitle(name: string, count: number): string {
  return count > 0 ? `(${count > 999 ? '999+' : count}) ${name}` : name;
}

export type PermissionState = 'default' | 'granted' | 'denied' | 'unsupported';

/** What the notifier needs of window.Notification. */
export interface NotificationLike {
  onclick: ((ev: unknown) => void) | null;
  close(): void;
}
export interface NotificationCtor {
  new (title: string, options?: { body?: string; tag?: string; renotify?: boolean; icon?: string }): NotificationLike;
  readonly permission: string;
  requestPermission(): Promise<string>;
}

/** What the notifier needs to know about the application. */
export interface NotifyContext {
  meId(): number | null;
  /** The conversation on screen (route), or null. */
  openId(): number | null;
  conversation(id: number): { title: string; muted: boolean; lastSeq: number } | undefined;
  /** Opens a conversation (a notification was clicked). */
  open(conversationId: number): void;
  /** The sender of a conversation's newest message (an activity frame does not say; it may be the caller's own, from another device). */
  latestSender?(conversationId: number): Promise<number | null>;
}

export interface NotifierDeps {
  Notification?: NotificationCtor | null;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  /** The tab is visible. */
  visible?: () => boolean;
  focusWindow?: () => void;
  /** True inside a user gesture (a click); requestPermission is never called otherwise. */
  hasGesture?: () => boolean;
  /** Something worth a notification happened while permission is still 'default' (offer to enable). */
  onWant?: () => void;
}

interface ThrottleWindow {
  until: number;
  pending: number;
  /** The title of a held-back mention notification, if any. */
  mention: string | null;
  /** The last held-back notification (shown as it is when it is the only one). */
  last: { title: string; body: string } | null;
  timer: unknown;
}

export class Notifier {
  private readonly ctx: NotifyContext;
  private readonly d: Required<Omit<NotifierDeps, 'Notification' | 'onWant'>> & Pick<NotifierDeps, 'Notification' | 'onWant'>;
  private readonly windows = new Map<number, ThrottleWindow>();
  private wanted = false;
  /** Notifications shown (for tests and debugging). */
  shown = 0;

  constructor(ctx: NotifyContext, deps: NotifierDeps = {}) {
    this.ctx = ctx;
    const g = globalThis as unknown as {
      Notification?: NotificationCtor;
      document?: Document;
      navigator?: { userActivation?: { isActive: boolean } };
      focus?: () => void;
    };
    this.d = {
      Notification: 'Notification' in deps ? deps.Notification : (g.Notification ?? null),
      now: () => Date.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      visible: () => g.document?.visibilityState === 'visible',
      focusWindow: () => g.focus?.(),
      hasGesture: () => g.navigator?.userActivation?.isActive ?? true,
      ...deps,
    };
  }

  get permission(): PermissionState {
    const N = this.d.Notification;
    if (!N) return 'unsupported';
    const p = N.permission;
    return p === 'granted' || p === 'denied' ? p : 'default';
  }

  /** Asks the browser for permission. Call it only from a click handler: without a user gesture it does nothing. */
  async enable(): Promise<PermissionState> {
    const N = this.d.Notification;
    if (!N) return 'unsupported';
    if (this.permission !== 'default' || !this.d.hasGesture()) return this.permission;
    try {
      await N.requestPermission();
    } catch {
      /* old browsers: callback form only; treat as unanswered */
    }
    return this.permission;
  }

  /** Feeds one WebSocket frame, before the application state applies it. */
  frame(f: ServerFrame): void {
    if (f.type === 'message') this.message(f.message);
    else if (f.type === 'mentioned') this.mentioned(f.message);
    else if (f.type === 'activity') {
      const c = this.ctx.conversation(f.conversation_id);
      if (c && f.last_seq > c.lastSeq) this.activity(f.conversation_id);
    }
  }

  private onScreen(conversationId: number): boolean {
    return this.ctx.openId() === conversationId && this.d.visible();
  }

  /** A message frame (a conversation this client is subscribed to). */
  message(m: Message): void {
    const me = this.ctx.meId();
    if (m.deleted || m.sender.id === me || this.onScreen(m.conversation_id)) return;
    // A mention of the caller comes again as a `mentioned` frame: notified there.
    const x = m as Message & { mentions?: number[] };
    if (me !== null && x.mentions?.includes(me)) return;
    const c = this.ctx.conversation(m.conversation_id);
    if (!c || c.muted) return;
    const text = previewText(m.body) || t('notify.new_message');
    this.notify(m.conversation_id, c.title, `${m.sender.display_name}: ${text}`, null);
  }

  /** An activity frame: new messages in a conversation this client does not follow. */
  activity(conversationId: number): void {
    if (this.onScreen(conversationId)) return;
    const c = this.ctx.conversation(conversationId);
    if (!c || c.muted) return;
    const go = () => this.notify(conversationId, c.title, t('notify.new_messages_in', { name: c.title }), null);
    if (this.permission !== 'granted' || !this.ctx.latestSender) {
      go();
      return;
    }
    // Never for the caller's own message (sent from another tab or device).
    void this.ctx.latestSender(conversationId).then(
      (sender) => {
        if (sender === null || sender !== this.ctx.meId()) go();
      },
      () => go(),
    );
  }

  /** A mentioned frame: notified even when the conversation's notifications are muted. */
  mentioned(m: Message): void {
    if (m.sender.id === this.ctx.meId() || this.onScreen(m.conversation_id)) return;
    const c = this.ctx.conversation(m.conversation_id);
    const title = c?.title ?? 'a conversation';
    const head = `${m.sender.display_name} mentioned you in ${title}`;
    this.notify(m.conversation_id, head, previewText(m.body), head);
  }

  /** Drops pending summaries (sign out). */
  reset(): void {
    for (const w of this.windows.values()) if (w.timer !== null) this.d.clearTimer(w.timer);
    this.windows.clear();
  }

  private notify(conversationId: number, title: string, body: string, mention: string | null): void {
    if (this.permission !== 'granted') {
      if (this.permission === 'default' && !this.wanted) {
        this.wanted = true;
        this.d.onWant?.();
      }
      return;
    }
    const now = this.d.now();
    const w = this.windows.get(conversationId);
    if (w && now < w.until) {
      // Within 5 s of the last one: coalesce into a summary at the end of the window.
      w.pending++;
      if (mention) w.mention = mention;
      if (mention || !w.mention) w.last = { title, body };
      if (w.timer === null) w.timer = this.d.setTimer(() => this.flush(conversationId), w.until - now);
      return;
    }
    this.show(conversationId, title, body);
    this.windows.set(conversationId, { until: now + THROTTLE_MS, pending: 0, mention: null, last: null, timer: null });
  }

  private flush(conversationId: number): void {
    const w = this.windows.get(conversationId);
    if (!w) return;
    w.timer = null;
    if (!w.pending) {
      this.windows.delete(conversationId);
      return;
    }
    const c = this.ctx.conversation(conversationId);
    const name = c?.title ?? 'a conversation';
    const muted = c?.muted ?? false;
    // Still relevant? (the person may have opened it meanwhile; a muted one keeps only mentions)
    if (this.onScreen(conversationId) || (muted && !w.mention)) {
      this.windows.delete(conversationId);
      return;
    }
    if (w.pending === 1 && w.last) this.show(conversationId, w.last.title, w.last.body);
    else this.show(conversationId, w.mention ?? name, w.mention ? `${w.pending} new messages in ${name}, one mentions you` : `${w.pending} new messages in ${name}`);
    this.windows.set(conversationId, { until: this.d.now() + THROTTLE_MS, pending: 0, mention: null, last: null, timer: null });
  }

  private show(conversationId: number, title: string, body: string): void {
    const N = this.d.Notification;
    if (!N) return;
    let n: NotificationLike;
    try {
      n = new N(title, { body: body.length > 180 ? body.slice(0, 179) + '…' : body, tag: `teamchat-c${conversationId}` });
    } catch {
      return; // e.g. Android Chrome wants a service worker; the badges still work
    }
    this.shown++;
    n.onclick = () => {
      this.d.focusWindow();
      this.ctx.open(conversationId);
      n.close();
    };
  }
}

/** The notifier wired to the application state (Shell mounts it). */
export function notifierFor(
  app: {
    me: { id: number } | null;
    route: { view: string; id?: number };
    conversation(id: number): Conversation | undefined;
    title(c: Conversation): string;
    navigate(r: { view: 'chat'; id: number }): void;
    /** The conversation's newest message, fetched once per activity for the preview and for this. */
    refreshPreview?(id: number): Promise<Message | null>;
  },
  deps: NotifierDeps = {},
): Notifier {
  return new Notifier(
    {
      meId: () => app.me?.id ?? null,
      openId: () => (app.route.view === 'chat' && app.route.id !== undefined ? app.route.id : null),
      conversation: (id) => {
        const c = app.conversation(id);
        return c ? { title: app.title(c), muted: !!c.notifications_muted, lastSeq: c.last_seq } : undefined;
      },
      open: (id) => app.navigate({ view: 'chat', id }),
      latestSender: app.refreshPreview ? async (id) => (await app.refreshPreview!(id))?.sender.id ?? null : undefined,
    },
    deps,
  );
}
