// A server restart in the middle of a class, in real browsers: a few students
// are chatting when the server is killed (SIGKILL) and started again on the
// same port and data. Each page shows "Reconnecting…" with a Retry while the
// server is away, comes back live by itself (reconnect schedule: quick retries,
// then GET /healthz probes, then a jittered connect), and shows every message
// once, in order, the one typed while the server was down included. The time
// from the server answering to every page live is printed for
// docs/performance.md, not asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, shot, openConversation, sendMessage, waitForMessage, until } from './harness.mjs';

const server = new Server();
let browser;
let admin;
let joinCode;
const STUDENTS = 4;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  joinCode = (await admin.call('PATCH', '/settings', { guest_access: true })).join_code;
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

/** The seqs of the messages shown, in order of display. */
async function shownSeqs(page) {
  return page.locator('[data-testid="message"]').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
}

test('after a kill -9 and a restart on the same port every student is live again, no gap, no duplicate', async () => {
  const pages = [];
  for (let i = 0; i < STUDENTS; i++) {
    const p = await newPage(browser, { tag: `st${i}` });
    await p.goto(`${server.url}/?code=${encodeURIComponent(joinCode)}`);
    await p.getByLabel('Your name').fill(`Student ${i}`);
    await p.getByRole('button', { name: 'Join the chat' }).click();
    await p.getByRole('navigation', { name: 'Conversations' }).waitFor();
    await openConversation(p, 'General');
    pages.push(p);
  }
  for (let k = 1; k <= 3; k++) await admin.call('POST', '/conversations/1/messages', { body: `before ${k}`, client_id: `before-${k}` });
  for (const p of pages) await waitForMessage(p, 'before 3');

  await server.kill();
  for (const p of pages) {
    const banner = p.getByTestId('offline-banner');
    await banner.waitFor();
    await banner.getByText('Reconnecting…').waitFor();
    await banner.getByRole('button', { name: 'Retry now' }).waitFor();
  }
  const typed = `typed while the server was down ${Date.now()}`;
  await sendMessage(pages[0], typed);
  await pages[0].getByTestId('pending').filter({ hasText: typed }).waitFor();
  // Retry while the server is still away: nothing breaks, still reconnecting.
  await pages[1].getByTestId('offline-banner').getByRole('button', { name: 'Retry now' }).click();
  await pages[1].getByTestId('offline-banner').waitFor();
  await shot(pages[1], 'reconnecting.png');

  await server.start(); // same port, same data dir; resolves once /healthz answers
  const answering = Date.now();
  const liveAt = await Promise.all(
    pages.map(async (p) => {
      await p.getByTestId('offline-banner').waitFor({ state: 'detached', timeout: 60_000 });
      return Date.now() - answering;
    }),
  );
  console.log(`restart: ${STUDENTS} browser students live again ${liveAt.join(', ')} ms after the server answered`);

  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('POST', '/conversations/1/messages', { body: 'after the restart', client_id: 'after-1' });
  for (const p of pages) {
    await waitForMessage(p, typed, 30_000);
    await waitForMessage(p, 'after the restart');
  }
  await pages[0].getByTestId('pending').filter({ hasText: typed }).waitFor({ state: 'detached' });
  const stored = (await admin.call('GET', '/conversations/1/messages?limit=200')).messages;
  assert.equal(stored.filter((m) => m.body === typed).length, 1, 'the message typed while down is stored once');
  const want = stored.map((m) => m.seq).sort((a, b) => a - b);
  for (const p of pages) {
    await until(async () => (await shownSeqs(p)).length === want.length, 'every message shown');
    assert.deepEqual(await shownSeqs(p), want, 'every message once, in order, no gap');
    assert.equal(await p.getByTestId('pending').count(), 0);
    assert.deepEqual(p.dialogs, [], 'no dialog may open');
    assert.deepEqual(p.errors, [], 'no page errors');
  }
});
