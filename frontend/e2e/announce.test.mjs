// Screen-reader announcements: the message list is a role="log" whose own live updates are
// off (history loads and scrolling back add nodes too); the polite announcer gets one line
// per new message from someone else in the open conversation, the assertive one a mention
// of the reader or a direct message, worded distinctly. The reader's own sends are silent.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, signIn, sendMessage, until, waitForMessage, assertClean } from './harness.mjs';

const server = new Server();
let browser;
let admin;
let grace;
let lab;
let big;
let dm;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('POST', '/users', { username: 'grace', password: 'student-pass-1', display_name: 'Grace Hopper', role: 'user' });
  grace = await apiSession(server.url, 'grace', 'student-pass-1');
  lab = await admin.call('POST', '/conversations', { name: 'Lab', kind: 'group', member_ids: [grace.user.id] });
  // More history than one page: opening and scrolling back load older messages.
  for (let i = 1; i <= 80; i++) await admin.call('POST', `/conversations/${lab.id}/messages`, { body: `history ${i}`, client_id: `h-${i}` });
  big = await admin.call('POST', '/conversations', { name: 'Big', kind: 'group', member_ids: [grace.user.id] });
  dm = await admin.call('POST', '/conversations', { kind: 'direct', member_ids: [grace.user.id] });
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

const said = (page, which) => page.getByTestId(`announce-${which}`).locator('p').allTextContents();

test('only new messages are announced; mentions and direct messages distinctly', async () => {
  const page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await signIn(page, server.url, 'grace', 'student-pass-1');
  await page.evaluate((h) => (location.hash = h), `#c/${lab.id}`);
  await waitForMessage(page, 'history 80');
  const log = page.getByRole('log', { name: 'Messages' });
  assert.equal(await log.getAttribute('aria-live'), 'off', 'the list itself does not announce');

  // Scrolling back loads older history: still nothing announced.
  const before = await page.getByTestId('message').count();
  await until(async () => {
    await log.evaluate((el) => (el.scrollTop = 0));
    return (await page.getByTestId('message').count()) > before;
  }, 'older history loaded by scrolling back');
  assert.deepEqual(await said(page, 'polite'), [], 'history is not announced');
  assert.deepEqual(await said(page, 'urgent'), []);

  // Her own send: silent.
  await sendMessage(page, 'my own words');
  await waitForMessage(page, 'my own words');
  await until(async () => (await page.getByTestId('pending').count()) === 0, 'the send confirmed');

  // Someone else in the open conversation: polite.
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: 'Hello **class**', client_id: 'n-1' });
  await until(async () => (await said(page, 'polite')).length === 1, 'the new message announced');
  assert.deepEqual(await said(page, 'polite'), ['Prof. Ada: Hello class']);

  // A mention of her here: assertive, "Mention from …".
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: '@grace can you present?', client_id: 'n-2' });
  await until(async () => (await said(page, 'urgent')).length === 1, 'the mention announced');
  assert.deepEqual(await said(page, 'urgent'), ['Mention from Prof. Ada: @grace can you present?']);

  // A mention in another conversation names it.
  await admin.call('POST', `/conversations/${big.id}/messages`, { body: '@grace see the worksheet', client_id: 'n-3' });
  await until(async () => (await said(page, 'urgent')).length === 2, 'the mention elsewhere announced');
  assert.equal((await said(page, 'urgent'))[1], 'Mention from Prof. Ada in Big: @grace see the worksheet');

  // A direct message while she reads Lab.
  await admin.call('POST', `/conversations/${dm.id}/messages`, { body: 'office hours at 3?', client_id: 'n-4' });
  await until(async () => (await said(page, 'urgent')).length === 3, 'the direct message announced');
  assert.equal((await said(page, 'urgent'))[2], 'Direct message from Prof. Ada: office hours at 3?');

  // An ordinary message elsewhere is not announced (the unread badge says it).
  await admin.call('POST', `/conversations/${big.id}/messages`, { body: 'plain note elsewhere', client_id: 'n-5' });
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: 'after the note', client_id: 'n-6' });
  await until(async () => (await said(page, 'polite')).length === 2, 'the second message here');
  assert.deepEqual(await said(page, 'polite'), ['Prof. Ada: Hello class', 'Prof. Ada: after the note']);
  assert.equal((await said(page, 'urgent')).length, 3);
  assertClean(page);
  await page.context().close();
});
