import { describe, expect, it } from 'vitest';
import { withMessageDefaults } from '../src/lib/api';

// The server omits a message's empty fields; the client fills them in at parse time.
describe('withMessageDefaults', () => {
  const bare = { id: 7, conversation_id: 2, seq: 3, sender: { id: 1 }, body: 'hi', client_id: '', created_at: 'x', deleted: false, pinned: false };

  it('fills every omitted field of a message, wherever it sits in the answer', () => {
    const page = JSON.parse(JSON.stringify({ messages: [bare], results: [{ message: bare }], type: 'ack', message: bare }), withMessageDefaults);
    for (const m of [page.messages[0], page.results[0].message, page.message]) {
      expect(m).toMatchObject({ edited_at: null, reply_to: null, reply_count: 0, mentions: [], mention_all: false, reactions: [], attachments: [] });
    }
  });

  it('keeps what the server sent', () => {
    const full = { ...bare, reply_count: 2, mentions: [4], reactions: [{ emoji: '👍', count: 1, user_ids: [4] }], reply_to: { id: 1, seq: 1, sender: { id: 4 }, body: 'q', deleted: false } };
    const m = JSON.parse(JSON.stringify(full), withMessageDefaults);
    expect(m.reply_count).toBe(2);
    expect(m.mentions).toEqual([4]);
    expect(m.reactions[0].emoji).toBe('👍');
    expect(m.reply_to).toEqual({ id: 1, seq: 1, sender: { id: 4 }, body: 'q', deleted: false }); // a quote is not a message
  });

  it('leaves objects that are not messages alone', () => {
    const v = JSON.parse('{"conversation":{"id":1,"name":"G","last_seq":3},"user":{"id":1}}', withMessageDefaults);
    expect(v.conversation).toEqual({ id: 1, name: 'G', last_seq: 3 });
    expect(v.user).toEqual({ id: 1 });
  });
});
