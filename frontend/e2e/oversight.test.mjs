// Oversight in the browser (issue 6) against the real binary: class sessions (a guest
// is cut off at the end), keyword flags and reports in the Flags queue, the participation
// view with its CSV, and the transcript download. The tests run in order and share one server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, openConversation, sendMessage, waitForMessage, until } from './harness.mjs';

const server = new Server();
let browser;
let prof; // the professor's page
let student; // Grace's page
let admin; // the professor's REST session
let grace; // Grace's REST session
let alan; // Alan's REST session
let general; // the auto-join conversation
let joinCode;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  addUser(server.dataDir, 'grace', 'grace-pass-1', 'user', 'Grace Hopper');
  addUser(server.dataDir, 'alan', 'alan-pass-1', 'user', 'Alan Turing');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  grace = await apiSession(server.url, 'grace', 'grace-pass-1');
  alan = await apiSession(server.url, 'alan', 'alan-pass-1');
  await admin.call('PATCH', '/settings', { name: 'Physics 101', guest_access: true });
  joinCode = (await admin.call('GET', '/settings')).join_code;
  general = (await admin.call('GET', '/conversations')).conversations.find((c) => c.name === 'General');
  assert.ok(general, 'the server has a General conversation');
  for (const who of [grace, alan]) {
    const mine = (await who.call('GET', '/conversations')).conversations;
    if (!mine.some((c) => c.id === general.id)) await admin.call('POST', `/conversations/${general.id}/members`, { user_id: who.user.id });
  }
  await alan.call('POST', `/conversations/${general.id}/messages`, { body: 'Good morning everyone', client_id: 'a-1' });

  prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
  student = await newPage(browser, { tag: 'grace' });
  await signIn(student, server.url, 'grace', 'grace-pass-1');
  await openConversation(student, 'General');
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

function assertClean(page) {
  assert.deepEqual(page.dialogs, [], 'no dialog may open');
  assert.deepEqual(page.errors, [], 'no page errors');
}

const stored = async () => (await admin.call('GET', `/conversations/${general.id}/messages?limit=200`)).messages;

test('the professor starts a session, a guest chats, ending it sends the guest back to the join screen; the message stays', async () => {
  await prof.goto(server.url + '/#console');
  const card = prof.getByTestId('session-card');
  await card.getByLabel('Session name').fill('Lecture 5');
  await card.getByRole('button', { name: 'Start session' }).click();
  await card.getByTestId('active-session').filter({ hasText: 'Lecture 5' }).waitFor();
  await prof.getByTestId('session-indicator').filter({ hasText: 'Session: Lecture 5' }).waitFor();
  // Everyone sees it live.
  await student.getByTestId('session-indicator').filter({ hasText: 'Session: Lecture 5' }).waitFor();
  const info = await (await fetch(server.url + '/api/v1/info')).json();
  assert.equal(info.session?.name, 'Lecture 5');

  const guest = await newPage(browser, { tag: 'guest' });
  await guest.goto(`${server.url}/?code=${encodeURIComponent(joinCode)}`);
  await guest.getByLabel('Your name').fill('Visiting Gus');
  await guest.getByRole('button', { name: 'Join the chat' }).click();
  await guest.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await guest.getByTestId('session-indicator').filter({ hasText: 'Session: Lecture 5' }).waitFor();
  await openConversation(guest, 'General');
  await sendMessage(guest, 'Guest question: what is entropy?');
  await waitForMessage(student, 'Guest question: what is entropy?');

  await prof.getByRole('button', { name: 'End session' }).click();
  await prof.getByRole('button', { name: 'Yes, end it' }).click();
  await card.getByLabel('Session name').waitFor();
  await card.getByTestId('past-sessions').filter({ hasText: 'Lecture 5' }).waitFor({ state: 'attached' });

  // The guest is cut off: back on the join screen, told why.
  await guest.getByTestId('join-notice').filter({ hasText: 'The class session has ended' }).waitFor();
  await guest.getByRole('tab', { name: 'Join as guest' }).waitFor();
  assert.equal(await guest.getByRole('navigation', { name: 'Conversations' }).count(), 0);
  await student.getByTestId('session-indicator').waitFor({ state: 'detached' });
  await prof.getByTestId('session-indicator').waitFor({ state: 'detached' });

  // The guest's message stays in the record, under their name.
  await openConversation(prof, 'General');
  const kept = prof.getByTestId('message').filter({ hasText: 'Guest question: what is entropy?' });
  await kept.waitFor();
  await kept.getByText('Visiting Gus').waitFor();
  assert.ok((await stored()).some((m) => m.body === 'Guest question: what is entropy?' && !m.deleted));
  const sessions = (await admin.call('GET', '/sessions')).sessions;
  assert.equal(sessions[0].name, 'Lecture 5');
  assert.equal(sessions[0].active, false);
  assertClean(guest);
  await guest.context().close();
  assertClean(prof);
  assertClean(student);
});

test('a flag word flags a message live in the Flags queue, and the professor deletes it from there', async () => {
  await prof.goto(server.url + '/#settings');
  await prof.getByLabel('New flag word').fill('cheat');
  await prof.getByRole('button', { name: 'Add', exact: true }).click();
  await prof.getByTestId('flag-words').getByText('cheat', { exact: true }).waitFor();
  assert.deepEqual((await admin.call('GET', '/settings')).flag_words, ['cheat']);

  await prof.getByTestId('flags-tab').click();
  await prof.getByRole('heading', { name: 'Flagged messages' }).waitFor();
  await prof.getByTestId('flags-empty').waitFor();

  await sendMessage(student, 'Can someone help me cheat on the quiz?');
  await waitForMessage(student, 'help me cheat');
  const card = prof.getByTestId('flag').filter({ has: prof.getByTestId('flagged-message').filter({ hasText: 'help me cheat' }) });
  await card.waitFor();
  assert.equal(await card.getAttribute('data-kind'), 'keyword');
  await card.getByTestId('flag-word').filter({ hasText: 'cheat' }).waitFor();
  await card.getByText('General').waitFor();
  // The context: the messages around it.
  await card.getByTestId('context-message').filter({ hasText: 'Guest question: what is entropy?' }).waitFor();
  await prof.getByTestId('flags-count').filter({ hasText: '1' }).waitFor();
  await prof.getByRole('link', { name: 'Flags (1 open)' }).waitFor();
  // Not blocked: the class saw it.
  assert.ok((await stored()).some((m) => m.body === 'Can someone help me cheat on the quiz?'));

  await card.getByRole('button', { name: 'Delete message' }).click();
  await card.waitFor({ state: 'detached' });
  await prof.getByTestId('flags-empty').waitFor();
  await prof.getByTestId('flags-count').waitFor({ state: 'detached' });
  await student.getByTestId('message').filter({ has: student.getByTestId('deleted') }).last().waitFor();
  const m = (await stored()).find((x) => x.sender.username === 'grace' && x.deleted);
  assert.ok(m, 'deleted on the server');
  assert.equal((await admin.call('GET', '/flags?status=open')).flags.length, 0);
  assertClean(prof);
  assertClean(student);
});

test('a student reports a message; it shows in the queue with reason and reporter, and the professor acts on it', async () => {
  await alan.call('POST', `/conversations/${general.id}/messages`, { body: 'Only idiots ask that', client_id: 'a-2' });
  const theirs = student.getByTestId('message').filter({ hasText: 'Only idiots ask that' });
  await theirs.waitFor();
  // Not on one's own messages.
  assert.equal(await student.getByRole('button', { name: 'Report message from Grace Hopper' }).count(), 0);
  await theirs.hover();
  await theirs.getByRole('button', { name: 'Report message from Alan Turing' }).click();
  const dialog = student.getByRole('dialog', { name: 'Report a message' });
  await dialog.getByTestId('reported-message').filter({ hasText: 'Only idiots ask that' }).waitFor();
  await dialog.getByLabel('Why are you reporting it?').fill('Insulting other students');
  await dialog.getByRole('button', { name: 'Report', exact: true }).click();
  await dialog.getByTestId('report-done').filter({ hasText: 'reported to the professor' }).waitFor();
  await dialog.getByRole('button', { name: 'Close', exact: true }).last().click();
  await dialog.waitFor({ state: 'detached' });

  // A second keyword flag, so the queue shows both kinds.
  await grace.call('POST', `/conversations/${general.id}/messages`, { body: 'I will not cheat, promise', client_id: 'g-2' });

  const report = prof.getByTestId('flag').filter({ has: prof.getByTestId('flag-reason').filter({ hasText: 'Insulting other students' }) });
  await report.waitFor();
  assert.equal(await report.getAttribute('data-kind'), 'report');
  await report.getByTestId('flag-reporter').filter({ hasText: 'Grace Hopper' }).waitFor();
  await report.getByTestId('flagged-message').filter({ hasText: 'Only idiots ask that' }).waitFor();
  await prof.getByTestId('flag').filter({ hasText: 'I will not cheat, promise' }).waitFor();
  await prof.getByTestId('flags-count').filter({ hasText: '2' }).waitFor();
  await shot(prof, 'flags-queue.png');
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'flags-queue-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });

  // Mute the sender for 15 minutes (the existing mute API), then dismiss.
  await report.getByRole('button', { name: 'Mute Alan Turing 15 min' }).click();
  await report.getByRole('status').filter({ hasText: /Alan Turing is muted until \d/ }).waitFor();
  const mutes = (await admin.call('GET', `/conversations/${general.id}/mutes`)).mutes;
  assert.deepEqual(mutes.map((x) => x.user.username), ['alan']);
  await admin.call('DELETE', `/conversations/${general.id}/mutes/${alan.user.id}`);
  await report.getByRole('button', { name: 'Dismiss' }).click();
  await report.waitFor({ state: 'detached' });
  const kw = prof.getByTestId('flag').filter({ hasText: 'I will not cheat, promise' });
  await kw.getByRole('button', { name: 'Dismiss' }).click();
  await prof.getByTestId('flags-empty').waitFor();
  // The message stays; the flags are resolved.
  assert.ok((await stored()).some((m) => m.body === 'Only idiots ask that' && !m.deleted));
  const resolved = (await admin.call('GET', '/flags?status=resolved')).flags;
  assert.ok(resolved.some((f) => f.kind === 'report' && f.reason === 'Insulting other students' && f.resolved_by?.username === 'prof'));
  await prof.getByRole('tab', { name: 'Resolved' }).click();
  const done = prof.getByTestId('flag').filter({ has: prof.getByTestId('flagged-message').filter({ hasText: 'Only idiots ask that' }) });
  await done.waitFor();
  await done.getByText(/^Resolved .* by Prof\. Ada$/).waitFor();
  await prof.getByRole('tab', { name: /^Open/ }).click();
  assertClean(prof);
  assertClean(student);
});

test('participation shows the right counts and its CSV download has the same rows', async () => {
  // Expected, from what is stored: non-deleted messages of non-admins, words split on spaces.
  const msgs = (await stored()).filter((m) => !m.deleted && m.sender.role !== 'admin');
  const expect = {};
  for (const m of msgs) {
    const e = (expect[m.sender.username] ??= { messages: 0, words: 0 });
    e.messages++;
    e.words += m.body.split(/\s+/).filter(Boolean).length;
  }
  assert.ok(expect.grace && expect.alan, 'both students wrote');

  await prof.getByRole('link', { name: 'Participation' }).click();
  await prof.getByRole('heading', { name: 'Participation' }).waitFor();
  for (const [username, e] of Object.entries(expect)) {
    const row = prof.locator(`[data-testid="participation-row"][data-username="${username}"]`);
    await row.getByTestId('p-messages').filter({ hasText: new RegExp(`^${e.messages}$`) }).waitFor();
    assert.equal((await row.getByTestId('p-words').textContent()).trim(), String(e.words), `${username} words`);
    await row.getByText('General').waitFor();
  }
  await shot(prof, 'participation.png');
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'participation-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });

  const [download] = await Promise.all([prof.waitForEvent('download'), prof.getByRole('link', { name: 'Download CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/).map((l) => l.split(','));
  const head = csv[0];
  const col = (name) => head.indexOf(name);
  assert.ok(col('username') >= 0 && col('messages') >= 0 && col('words') >= 0, `CSV header: ${head}`);
  const json = await prof.evaluate(async () => (await fetch('/api/v1/participation?format=json')).json());
  assert.equal(csv.length - 1, json.rows.length, 'one CSV row per person');
  for (const r of json.rows) {
    const line = csv.find((l) => l[col('username')] === r.user.username);
    assert.ok(line, `CSV row for ${r.user.username}`);
    assert.equal(Number(line[col('messages')]), r.messages);
    assert.equal(Number(line[col('words')]), r.words);
    const e = expect[r.user.username] ?? { messages: 0, words: 0 };
    assert.deepEqual({ messages: r.messages, words: r.words }, e, `${r.user.username} counts`);
  }
  assertClean(prof);
});

test('the transcript downloads as a printable page with the messages escaped, and as CSV and JSON', async () => {
  const payload = '<img src=x onerror="alert(1)"> & <b>bold</b>';
  await openConversation(prof, 'General');
  await sendMessage(student, payload);
  await waitForMessage(prof, 'onerror');
  await prof.getByRole('button', { name: 'Conversation settings' }).click();
  const [download] = await Promise.all([prof.waitForEvent('download'), prof.getByRole('link', { name: 'Printable page' }).click()]);
  const html = readFileSync(await download.path(), 'utf8');
  assert.match(html, /Good morning everyone/);
  assert.match(html, /Guest question: what is entropy\?/);
  assert.ok(html.includes('&lt;img src=x onerror=') && html.includes('&lt;b&gt;bold&lt;/b&gt;'), 'the payload is escaped');
  assert.ok(!html.includes('<img src=x'), 'no live markup from a message');
  assert.ok(!/<script/i.test(html), 'no script');

  const csvHref = await prof.getByRole('link', { name: 'CSV', exact: true }).getAttribute('href');
  const jsonHref = await prof.getByRole('link', { name: 'JSON', exact: true }).getAttribute('href');
  const [csv, json] = await prof.evaluate(async ([a, b]) => [await (await fetch(a)).text(), await (await fetch(b)).json()], [csvHref, jsonHref]);
  assert.match(csv, /Good morning everyone/);
  const bodies = json.messages.filter((m) => !m.deleted).map((m) => m.body);
  assert.ok(bodies.includes(payload), 'JSON has the message as sent');
  assert.equal(json.messages.length, (await stored()).length);
  await prof.keyboard.press('Escape');
  assertClean(prof);
  assertClean(student);
});
