// The negotiated WebSocket protocol: several frames per message (one JSON object
// a line) and presence as a snapshot plus coalesced changes.
import { describe, expect, it } from 'vitest';
import { ChatSocket, WS_PROTOCOL, splitFrames } from '../src/lib/api';
import type { ServerFrame, User } from '../src/lib/types';
import { FakeWS, serveAs, startApp, useFakeSocket } from './fakes';

const me: User = { id: 1, username: 'prof', display_name: 'Prof. Ada', role: 'admin', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const info = { name: 'Physics 101', id: 'x', version: 'dev', registration: 'code', guest_access: true };

class ProtoWS {
  static all: ProtoWS[] = [];
  readyState = 0;
  protocol = WS_PROTOCOL;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(
    public url: string,
    public protocols?: string | string[],
  ) {
    ProtoWS.all.push(this);
  }
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close() {
    this.readyState = 3;
  }
  raw(data: string) {
    this.onmessage?.({ data });
  }
}

function socket() {
  ProtoWS.all = [];
  const frames: ServerFrame[] = [];
  const s = new ChatSocket({
    url: 'ws://test/api/v1/ws',
    WebSocketImpl: ProtoWS,
    onFrame: (f) => frames.push(f),
    random: () => 0.5,
    setTimer: () => 0,
    clearTimer: () => {},
  });
  return { s, frames, ws: () => ProtoWS.all[ProtoWS.all.length - 1] };
}

describe('batched frames', () => {
  it('asks for the protocol', () => {
    const { s, ws } = socket();
    s.start();
    expect(ws().protocols).toEqual([WS_PROTOCOL]);
  });

  it('handles every line of one message, in order, and skips a bad line', () => {
    const { s, frames, ws } = socket();
    s.start();
    s.send(3, 'hello', 'c1');
    const ack = { type: 'ack', client_id: 'c1', message: { id: 7, conversation_id: 3, seq: 1, sender: me, body: 'hello', created_at: '2026-11-29T09:30:00.000Z', client_id: 'c1', deleted: false } };
    ws().raw([JSON.stringify({ type: 'ready', user: me }), 'not json', JSON.stringify(ack), JSON.stringify({ type: 'activity', conversation_id: 3, last_seq: 1 })].join('\n'));
    expect(frames.map((f) => f.type)).toEqual(['ready', 'ack', 'activity']);
    expect(s.pending()).toEqual([]); // the ack in the same message cleared the outbox
  });

  it('splitFrames: one frame as is, several by line', () => {
    expect(splitFrames('{"type":"ready"}')).toEqual(['{"type":"ready"}']);
    expect(splitFrames('{"a":1}\n{"b":"x\\ny"}\n')).toEqual(['{"a":1}', '{"b":"x\\ny"}']);
  });
});

useFakeSocket();

describe('presence lists', () => {
  async function app() {
    serveAs(me, info, (m, p) => (m === 'GET' && p === '/conversations' ? { status: 200, body: { conversations: [] } } : undefined));
    return startApp(me);
  }

  it('a snapshot replaces what was known, changes add and remove, and the tick moves', async () => {
    const { app: a, ws } = await app();
    ws.frame({ type: 'presence', user_id: 9, online: true }); // left from an unnegotiated frame
    const tick = a.presenceTick;
    ws.frame({ type: 'presence_snapshot', user_ids: [2, 3, 4] });
    expect(a.presence).toEqual({ 1: true, 2: true, 3: true, 4: true });
    expect(a.presenceTick).toBe(tick + 1);
    ws.frame({ type: 'presence_changes', online: [5], offline: [3, 1] });
    expect(a.isOnline(5)).toBe(true);
    expect(a.isOnline(3)).toBeUndefined();
    expect(a.isOnline(1)).toBe(true); // this connection is up: its own user stays online
    expect(Object.keys(a.presence).filter((id) => a.presence[Number(id)])).toEqual(['1', '2', '4', '5']);
    expect(a.presenceTick).toBe(tick + 2);
  });

  it('presence frames batched in one message all apply', async () => {
    const { app: a, ws } = await app();
    (ws as FakeWS).onmessage?.({ data: JSON.stringify({ type: 'presence_snapshot', user_ids: [2] }) + '\n' + JSON.stringify({ type: 'presence_changes', online: [3], offline: [2] }) });
    expect(a.isOnline(2)).toBeUndefined();
    expect(a.isOnline(3)).toBe(true);
  });
});
