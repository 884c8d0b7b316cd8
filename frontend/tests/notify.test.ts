// lib/notify.ts: the tab title count and browser notifications, with a fake
// Notification, a fake clock and a fake visibility.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Notifier, THROTTLE_MS, notifierFor, tabTitle, unreadTitleCount, type NotifyContext } from '../src/lib/notify';
import type { Conversation, Message, User } from '../src/lib/types';

const me: User = { id: 1, username: 'grace', display_name: 'Grace', role: 'user', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const prof: User = { ...me, id: 2, username: 'prof', display_name: 'Prof. Ada', role: 'admin' };

function conv(id: number, over: Partial<Conversation> = {}): Conversation {
  return { id, name: `C${id}`, kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 10, unread: 0, member_role: 'member', ...over };
}
function msg(c: number, seq: number, sender: User, over: Partial<Message> & { mentions?: number[] } = {}): Message {
  return { id: c * 100 + seq, conversation_id: c, seq, sender, body: `hello ${seq}`, created_at: '2026-11-29T09:30:00.000Z', client_id: null, deleted: false, ...over };
}

class FakeNotification {
  static permission = 'default';
  static requested = 0;
  static answer = 'granted';
  static shown: FakeNotification[] = [];
  onclick: ((ev: unknown) => void) | null = null;
  closed = false;
  constructor(
    public title: string,
    public options: { body?: string; tag?: string } = {},
  ) {
    FakeNotification.shown.push(this);
  }
  close() {
    this.closed = true;
  }
  static async requestPermission() {
    FakeNotification.requested++;
    FakeNotification.permission = FakeNotification.answer;
    return FakeNotification.permission;
  }
}

interface Timer {
  at: number;
  fn: () => void;
}

function setup(convs: Conversation[], opts: { open?: number | null; visible?: boolean; gesture?: boolean } = {}) {
  let now = 1_000_000;
  const timers: Timer[] = [];
  const opened: number[] = [];
  let visible = opts.visible ?? true;
  let gesture = opts.gesture ?? true;
  const focus = vi.fn();
  const onWant = vi.fn();
  const ctx: NotifyContext = {
    meId: () => me.id,
    openId: () => opts.open ?? null,
    conversation: (id) => {
      const c = convs.find((x) => x.id === id);
      return c ? { title: c.name, muted: !!c.notifications_muted, lastSeq: c.last_seq } : undefined;
    },
    open: (id) => opened.push(id),
  };
  const n = new Notifier(ctx, {
    Notification: FakeNotification,
    now: () => now,
    setTimer: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => timers.splice(timers.indexOf(t as Timer), 1),
    visible: () => visible,
    focusWindow: focus,
    hasGesture: () => gesture,
    onWant,
  });
  return {
    n,
    opened,
    focus,
    onWant,
    advance(ms: number) {
      now += ms;
      for (const t of timers.filter((x) => x.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    },
    setVisible: (v: boolean) => (visible = v),
    setGesture: (g: boolean) => (gesture = g),
  };
}

beforeEach(() => {
  FakeNotification.permission = 'granted';
  FakeNotification.requested = 0;
  FakeNotification.answer = 'granted';
  FakeNotification.shown = [];
});

describe('tab title', () => {
  it('counts unread outside the open conversation; muted ones count only their mentions', () => {
    const list = [conv(1, { unread: 3 }), conv(2, { unread: 2, unread_mentions: 1 }), conv(3, { unread: 5, notifications_muted: true }), conv(4, { unread: 4, unread_mentions: 2, notifications_muted: true })];
    expect(unreadTitleCount(list, null, true)).toBe(3 + 2 + 0 + 2);
    expect(unreadTitleCount(list, 1, true)).toBe(2 + 0 + 2);
    // The tab is hidden: the open conversation's new messages are unread too.
    expect(unreadTitleCount(list, 1, false)).toBe(3 + 2 + 0 + 2);
    expect(unreadTitleCount([conv(5, { unread: 0, unread_mentions: 2 })], null, true)).toBe(2);
    expect(unreadTitleCount([], null, true)).toBe(0);
  });

  it('"(N) Class name", just the name at zero', () => {
    expect(tabTitle('Physics 101', 4)).toBe('(4) Physics 101');
    expect(tabTitle('Physics 101', 0)).toBe('Physics 101');
    expect(tabTitle('Physics 101', 12345)).toBe('(999+) Physics 101');
  });
});

describe('Notifier', () => {
  it('notifies a message in another conversation; clicking focuses the window and opens it', () => {
    const t = setup([conv(1), conv(2)], { open: 1 });
    t.n.message(msg(2, 11, prof, { body: 'Quiz **tomorrow**' }));
    expect(FakeNotification.shown).toHaveLength(1);
    const shown = FakeNotification.shown[0];
    expect(shown.title).toBe('C2');
    expect(shown.options.body).toBe('Prof. Ada: Quiz tomorrow');
    expect(shown.options.tag).toBe('teamchat-c2');
    shown.onclick?.({});
    expect(t.focus).toHaveBeenCalled();
    expect(t.opened).toEqual([2]);
    expect(shown.closed).toBe(true);
  });

  it('never for own messages, nor for the conversation on screen; any conversation while the tab is hidden', () => {
    const t = setup([conv(1), conv(2)], { open: 1 });
    t.n.message(msg(2, 11, me));
    t.n.message(msg(1, 11, prof));
    expect(FakeNotification.shown).toHaveLength(0);
    t.setVisible(false);
    t.n.message(msg(1, 12, prof));
    expect(FakeNotification.shown.map((x) => x.title)).toEqual(['C1']);
    t.n.message(msg(2, 12, me)); // own, hidden or not
    expect(FakeNotification.shown).toHaveLength(1);
  });

  it('muted conversations: no message or activity notifications, but mentions still notify', () => {
    const t = setup([conv(1), conv(2, { notifications_muted: true })]);
    t.n.message(msg(2, 11, prof));
    t.n.activity(2);
    t.n.frame({ type: 'activity', conversation_id: 2, last_seq: 15 });
    expect(FakeNotification.shown).toHaveLength(0);
    t.n.mentioned(msg(2, 12, prof, { body: '@grace look at this' }));
    expect(FakeNotification.shown.map((x) => [x.title, x.options.body])).toEqual([['Prof. Ada mentioned you in C2', '@grace look at this']]);
  });

  it('an activity frame says "New messages in <name>" (only when the seq is new)', () => {
    const t = setup([conv(3, { name: 'Lab group', last_seq: 10 })]);
    t.n.frame({ type: 'activity', conversation_id: 3, last_seq: 10 });
    expect(FakeNotification.shown).toHaveLength(0);
    t.n.frame({ type: 'activity', conversation_id: 3, last_seq: 11 });
    expect(FakeNotification.shown.map((x) => [x.title, x.options.body])).toEqual([['Lab group', 'New messages in Lab group']]);
  });

  it('an activity whose newest message is the caller\'s own (another device) makes no notification', async () => {
    let sender: number | null = me.id;
    const n = new Notifier(
      { meId: () => me.id, openId: () => null, conversation: () => ({ title: 'Lab', muted: false, lastSeq: 1 }), open: () => undefined, latestSender: async () => sender },
      { Notification: FakeNotification, visible: () => true },
    );
    n.activity(3);
    await Promise.resolve();
    await Promise.resolve();
    expect(FakeNotification.shown).toHaveLength(0);
    sender = prof.id;
    n.activity(3);
    await Promise.resolve();
    await Promise.resolve();
    expect(FakeNotification.shown.map((x) => x.options.body)).toEqual(['New messages in Lab']);
  });

  it('a message that mentions the caller is notified once, by its mentioned frame', () => {
    const t = setup([conv(2)]);
    t.n.frame({ type: 'message', message: msg(2, 11, prof, { body: '@grace hi', mentions: [me.id] }) });
    expect(FakeNotification.shown).toHaveLength(0);
    t.n.frame({ type: 'mentioned', conversation_id: 2, message: msg(2, 11, prof, { body: '@grace hi', mentions: [me.id] }) });
    expect(FakeNotification.shown).toHaveLength(1);
  });

  it('throttles: one per conversation per 5 s, a burst coalesced into one summary', () => {
    const t = setup([conv(1), conv(2)]);
    t.n.message(msg(1, 11, prof));
    t.n.message(msg(1, 12, prof));
    t.n.message(msg(1, 13, prof));
    t.n.message(msg(2, 11, prof)); // another conversation is not held back
    expect(FakeNotification.shown.map((x) => x.title)).toEqual(['C1', 'C2']);
    t.advance(THROTTLE_MS - 1);
    expect(FakeNotification.shown).toHaveLength(2);
    t.advance(1);
    expect(FakeNotification.shown).toHaveLength(3);
    expect(FakeNotification.shown[2]).toMatchObject({ title: 'C1', options: { body: '2 new messages in C1', tag: 'teamchat-c1' } });
    // The summary opened a new window: the next message waits for it too, and alone it is shown as it is.
    t.n.message(msg(1, 14, prof));
    expect(FakeNotification.shown).toHaveLength(3);
    t.advance(THROTTLE_MS);
    expect(FakeNotification.shown).toHaveLength(4);
    expect(FakeNotification.shown[3]).toMatchObject({ title: 'C1', options: { body: 'Prof. Ada: hello 14' } });
    // A quiet window ends with nothing more; after it, the next message shows at once.
    t.advance(THROTTLE_MS);
    t.advance(THROTTLE_MS);
    t.n.message(msg(1, 15, prof));
    expect(FakeNotification.shown).toHaveLength(5);
    expect(FakeNotification.shown[4].options.body).toBe('Prof. Ada: hello 15');
  });

  it('a mention held back in a burst keeps its title; muted conversations summarise only mentions', () => {
    const t = setup([conv(1), conv(2, { notifications_muted: true })]);
    t.n.message(msg(1, 11, prof));
    t.n.message(msg(1, 12, prof));
    t.n.mentioned(msg(1, 13, prof, { body: '@grace look' }));
    t.n.message(msg(1, 14, prof));
    t.advance(THROTTLE_MS);
    expect(FakeNotification.shown.map((x) => [x.title, x.options.body])).toEqual([
      ['C1', 'Prof. Ada: hello 11'],
      ['Prof. Ada mentioned you in C1', '3 new messages in C1, one mentions you'],
    ]);
    // Muted: the activity is never counted; a mention held back comes alone, as it is.
    t.n.mentioned(msg(2, 20, prof, { body: '@grace first' }));
    t.n.activity(2);
    t.n.mentioned(msg(2, 21, prof, { body: '@grace second' }));
    t.advance(THROTTLE_MS);
    expect(FakeNotification.shown.slice(2).map((x) => [x.title, x.options.body])).toEqual([
      ['Prof. Ada mentioned you in C2', '@grace first'],
      ['Prof. Ada mentioned you in C2', '@grace second'],
    ]);
  });

  it('drops a pending summary when the conversation was opened meanwhile', () => {
    let open: number | null = null;
    const n = notifierFor(
      {
        me,
        get route() {
          return open === null ? { view: 'home' } : { view: 'chat', id: open };
        },
        conversation: (id) => (id === 1 ? conv(1) : undefined),
        title: (c) => c.name,
        navigate: () => undefined,
      },
      { Notification: FakeNotification, visible: () => true },
    );
    vi.useFakeTimers();
    try {
      n.message(msg(1, 11, prof));
      n.message(msg(1, 12, prof));
      open = 1;
      vi.advanceTimersByTime(THROTTLE_MS + 10);
      expect(FakeNotification.shown).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never asks for permission without a user gesture, and never by itself', async () => {
    FakeNotification.permission = 'default';
    const t = setup([conv(1), conv(2)], { gesture: false });
    t.n.message(msg(2, 11, prof));
    t.n.mentioned(msg(2, 12, prof));
    t.n.activity(2);
    expect(FakeNotification.requested).toBe(0);
    expect(FakeNotification.shown).toHaveLength(0);
    // It only says it would like to (the UI offers a button), once.
    expect(t.onWant).toHaveBeenCalledTimes(1);
    expect(await t.n.enable()).toBe('default');
    expect(FakeNotification.requested).toBe(0);
    // From a click:
    t.setGesture(true);
    expect(await t.n.enable()).toBe('granted');
    expect(FakeNotification.requested).toBe(1);
    t.n.message(msg(2, 13, prof));
    expect(FakeNotification.shown).toHaveLength(1);
    // Already decided: no second prompt.
    await t.n.enable();
    expect(FakeNotification.requested).toBe(1);
  });

  it('denied or unsupported: nothing is shown and nothing is asked', async () => {
    FakeNotification.permission = 'denied';
    const t = setup([conv(1)]);
    t.n.message(msg(1, 11, prof));
    expect(await t.n.enable()).toBe('denied');
    expect(FakeNotification.requested).toBe(0);
    expect(FakeNotification.shown).toHaveLength(0);
    expect(t.onWant).not.toHaveBeenCalled();
    const none = new Notifier({ meId: () => 1, openId: () => null, conversation: () => undefined, open: () => undefined }, { Notification: null });
    expect(none.permission).toBe('unsupported');
    expect(await none.enable()).toBe('unsupported');
  });
});
