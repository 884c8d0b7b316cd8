// Raised hands in the browser against the real binary: two students on phones
// raise their hands in the class conversation, the professor (also on a phone)
// sees the ordered queue with wait times in the console, calls on the first
// ("next"), and the second student sees place 1; lower all; pause all refuses
// a raise. The tests of this file run in order and share one server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Server, SHOTS, addUser, apiSession, launch, newPage, shot, signIn, openConversation, until, assertClean } from './harness.mjs';

const server = new Server();
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 };
let browser, prof, ann, ben, admin, general;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  addUser(server.dataDir, 'ann', 'ann-pass-12', 'user', 'Ann Lovelace');
  addUser(server.dataDir, 'ben', 'ben-pass-12', 'user', 'Ben Franklin');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  general = (await admin.call('GET', '/conversations')).conversations.find((c) => c.auto_join);
  assert.ok(general, 'the class conversation');

  prof = await newPage(browser, { tag: 'prof', ...phone });
  await signIn(prof, server.url, 'prof', 'password');
  await prof.goto(server.url + '/#console');
  await prof.getByTestId('hands-console').waitFor();
  ann = await newPage(browser, { tag: 'ann', ...phone });
  await signIn(ann, server.url, 'ann', 'ann-pass-12');
  await openConversation(ann, general.name);
  ben = await newPage(browser, { tag: 'ben', ...phone });
  await signIn(ben, server.url, 'ben', 'ben-pass-12');
  await openConversation(ben, general.name);
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

const place = (page) => page.getByTestId('hand-toggle').getAttribute('data-place');
const queueNames = (page) => page.getByTestId('hands-console').getByTestId('hand-item').locator('.name').allTextContents();
const stored = async () => (await admin.call('GET', `/conversations/${general.id}/hands`)).hands.map((h) => h.user.username);

test('two hands in order; the professor sees the queue with wait times', async () => {
  await ann.getByRole('button', { name: 'Raise your hand' }).click();
  await until(async () => (await place(ann)) === '1', 'Ann at place 1');
  await ben.getByRole('button', { name: 'Raise your hand' }).click();
  await until(async () => (await place(ben)) === '2', 'Ben at place 2');
  await ben.getByTestId('hand-place').filter({ hasText: 'No. 2' }).waitFor();
  // Ann's page learned of Ben's hand without changing her place.
  assert.equal(await place(ann), '1');
  assert.deepEqual(await stored(), ['ann', 'ben']);

  // The professor's console, live: the queue in order, each with how long it has waited.
  await until(async () => (await queueNames(prof)).length === 2, 'two hands in the console');
  assert.deepEqual(await queueNames(prof), ['Ann Lovelace', 'Ben Franklin']);
  const waits = await prof.getByTestId('hands-console').getByTestId('hand-wait').allTextContents();
  assert.ok(waits.every((w) => /^waiting \d+:\d\d$/.test(w)), `wait times: ${waits}`);
  await prof.getByTestId('hands-console').scrollIntoViewIfNeeded();
  await prof.getByTestId('hands-console').screenshot({ path: join(SHOTS, 'hands-console.png') });
  await shot(ben, 'hands-student-place.png');
  assertClean(prof);
  assertClean(ann);
  assertClean(ben);
});

test('"next" lowers the first hand and tells her; the second student is now first', async () => {
  await prof.getByTestId('hands-console').getByTestId('hand-next').click();
  await prof.getByTestId('hands-console').getByRole('status').filter({ hasText: 'Called on Ann Lovelace.' }).waitFor();
  await until(async () => (await place(ben)) === '1', 'Ben at place 1');
  await ben.getByTestId('hand-place').filter({ hasText: 'No. 1' }).waitFor();
  await ann.getByTestId('hand-turn').waitFor();
  await ann.getByTestId('toast').filter({ hasText: 'it is your turn' }).waitFor();
  assert.equal(await place(ann), '0');
  await shot(ann, 'hands-student-turn.png');
  await until(async () => (await queueNames(prof)).length === 1, 'one hand left');
  assert.deepEqual(await queueNames(prof), ['Ben Franklin']);
  assert.deepEqual(await stored(), ['ben']);
  // Ann dismisses the notice; Ben lowers his own hand.
  await ann.getByTestId('hand-turn').click();
  await ann.getByTestId('hand-turn').waitFor({ state: 'detached' });
  await ben.getByRole('button', { name: /^Lower your hand/ }).click();
  await until(async () => (await queueNames(prof)).length === 0, 'the queue empty');
  assert.deepEqual(await stored(), []);
  assertClean(ann);
  assertClean(ben);
});

test('lower all, and the conversation view of the queue', async () => {
  await ann.getByRole('button', { name: 'Raise your hand' }).click();
  await ben.getByRole('button', { name: 'Raise your hand' }).click();
  await until(async () => (await queueNames(prof)).length === 2, 'two hands again');
  // The professor's view beside the conversation shows the same queue.
  // The professor's laptop beside the phone: the queue next to the conversation.
  const desk = await newPage(browser, { tag: 'prof-desk' });
  await signIn(desk, server.url, 'prof', 'password');
  await openConversation(desk, general.name);
  await desk.getByTestId('hands-count').filter({ hasText: '2' }).waitFor();
  await desk.getByTestId('hands-open').click();
  const panel = desk.getByTestId('hands-panel');
  await panel.getByTestId('hand-item').nth(1).waitFor();
  await shot(desk, 'hands-panel.png');
  await panel.getByTestId('hand-lower-all').click();
  await until(async () => (await place(ann)) === '0' && (await place(ben)) === '0', 'both hands down');
  await panel.getByText('No hands raised.').waitFor();
  assert.deepEqual(await stored(), []);
  assertClean(prof);
  assertClean(desk);
  await desk.context().close();
});

test('pause all refuses a raise, with the reason', async () => {
  await admin.call('PATCH', '/settings', { paused: true });
  await ann.getByRole('button', { name: 'Raise your hand' }).click();
  await ann.getByTestId('toast').filter({ hasText: /paused/i }).waitFor();
  assert.equal(await place(ann), '0');
  assert.deepEqual(await stored(), []);
  await admin.call('PATCH', '/settings', { paused: false });
  assertClean(ann);
});
