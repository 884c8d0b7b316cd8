// Questions in the browser against the real binary: two students on phones
// and the professor (also on a phone, in the console). An anonymous question
// shows no name to a classmate but the real name to the professor; upvotes
// toggle and reorder the board; the professor answers inline; the asker
// withdraws. The tests of this file run in order and share one server.

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
  prof = await newPage(browser, { tag: 'prof', ...phone });
  await signIn(prof, server.url, 'prof', 'password');
  await prof.goto(server.url + '/#console');
  await prof.getByTestId('questions-console').waitFor();
  for (const [name, pw] of [['ann', 'ann-pass-12'], ['ben', 'ben-pass-12']]) {
    const page = await newPage(browser, { tag: name, ...phone });
    await signIn(page, server.url, name, pw);
    await openConversation(page, general.name);
    await page.getByTestId('questions-open').click();
    await page.getByTestId('questions-panel').waitFor();
    if (name === 'ann') ann = page;
    else ben = page;
  }
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

const items = (page) => page.getByTestId('questions-board').first().getByTestId('question');
const texts = (page) => items(page).getByTestId('question-text').allTextContents();
const item = (page, text) => items(page).filter({ hasText: text });

test('an anonymous question shows no name to a classmate, the real name to the professor', async () => {
  // On by default, and the screen says the professor still sees who asked.
  assert.equal(await ann.getByTestId('question-anonymous').isChecked(), true);
  await ann.getByTestId('question-honest').filter({ hasText: 'The professor always sees who asked.' }).waitFor();
  await ann.getByTestId('question-body').fill('Is the exam open book?');
  await ann.getByTestId('question-ask').click();
  await item(ann, 'open book').getByTestId('question-asker').filter({ hasText: 'You (anonymous to classmates)' }).waitFor();

  await item(ben, 'open book').waitFor();
  assert.equal(await item(ben, 'open book').getByTestId('question-asker').textContent(), 'Anonymous');
  assert.equal(await ben.getByTestId('questions-panel').getByText('Ann Lovelace').count(), 0, 'no name anywhere on the classmate’s board');

  const board = prof.getByTestId('questions-console');
  await board.getByTestId('question').filter({ hasText: 'open book' }).getByTestId('question-asker').filter({ hasText: 'Ann Lovelace (anonymous to classmates)' }).waitFor();
  await shot(ben, 'questions-student.png');
  await board.scrollIntoViewIfNeeded();
  await board.screenshot({ path: join(SHOTS, 'questions-console.png') });
  assertClean(ann);
  assertClean(ben);
  assertClean(prof);
});

test('upvotes toggle and order the board; newest sorts by time', async () => {
  await ben.getByTestId('question-anonymous').uncheck();
  await ben.getByTestId('question-honest').filter({ hasText: 'will see your name' }).waitFor();
  await ben.getByTestId('question-body').fill('Can we get the slides?');
  await ben.getByTestId('question-ask').click();
  await item(ann, 'slides').getByTestId('question-asker').filter({ hasText: 'Ben Franklin' }).waitFor();
  // Equal votes: oldest first.
  assert.deepEqual(await texts(ann), ['Is the exam open book?', 'Can we get the slides?']);

  const vote = item(ann, 'slides').getByTestId('question-vote');
  await vote.click();
  await until(async () => (await vote.getAttribute('aria-pressed')) === 'true', 'Ann’s upvote shown');
  await until(async () => (await texts(ben))[0] === 'Can we get the slides?', 'Ben’s board reordered by votes');
  assert.equal(await item(ben, 'slides').getByTestId('question-votes').textContent(), '1');
  assert.equal(await item(ben, 'slides').getByTestId('question-vote').getAttribute('aria-pressed'), 'false', 'Ben did not vote');
  // Toggle: the second click takes it back.
  await vote.click();
  await until(async () => (await vote.getAttribute('aria-pressed')) === 'false', 'upvote taken back');
  await until(async () => (await texts(ben))[0] === 'Is the exam open book?', 'back to the oldest first');
  assert.equal(((await admin.call('GET', `/conversations/${general.id}/questions`)).questions.find((q) => q.body.includes('slides'))).votes, 0);
  await ben.getByTestId('sort-newest').click();
  assert.deepEqual(await texts(ben), ['Can we get the slides?', 'Is the exam open book?']);
  await ben.getByTestId('sort-votes').click();
  assertClean(ann);
  assertClean(ben);
});

test('the professor answers inline and pins; the asker withdraws', async () => {
  const pq = prof.getByTestId('questions-console').getByTestId('question').filter({ hasText: 'open book' });
  await pq.getByTestId('question-answer-open').click();
  await pq.getByTestId('question-answer-input').fill('Yes, one page of notes.');
  await pq.getByRole('button', { name: 'Send answer' }).click();
  await item(ann, 'open book').getByTestId('question-answer').filter({ hasText: 'one page of notes' }).waitFor();
  await item(ben, 'open book').getByText('Answered').waitFor();
  const sq = prof.getByTestId('questions-console').getByTestId('question').filter({ hasText: 'slides' });
  await sq.getByTestId('question-pin').click();
  await until(async () => (await texts(ann))[0] === 'Can we get the slides?', 'the pinned question first');
  await shot(ann, 'questions-answered.png');

  await item(ann, 'open book').getByTestId('question-withdraw').click();
  await item(ben, 'open book').waitFor({ state: 'detached' });
  await prof.getByTestId('questions-console').getByTestId('question').filter({ hasText: 'open book' }).waitFor({ state: 'detached' });
  assert.equal(await item(ben, 'slides').getByTestId('question-withdraw').count(), 1, 'Ben may withdraw his own');
  assert.equal(await item(ann, 'slides').getByTestId('question-withdraw').count(), 0, 'not another’s');
  assertClean(ann);
  assertClean(ben);
  assertClean(prof);
});
