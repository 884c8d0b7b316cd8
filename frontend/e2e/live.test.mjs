// The professor's live feed (#live) against the real binary: messages from two groups
// arrive live, in order, labelled with their conversations; deleting from the feed
// reaches the student; new conversations join; leaving the feed keeps an open chat
// subscribed. Also the session transcript links in the console. Tests share one server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SHOTS, Server, addUser, apiSession, launch, newPage, shot, signIn, openConversation, sendMessage, waitForMessage, until } from './harness.mjs';

const server = new Server();
let browser;
let prof; // the professor's page
let gracePage; // Grace's page (Group A)
let alanPage; // Alan's page (Group B)
let admin; // REST sessions
let grace;
let alan;
let groupA;
let groupB;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  addUser(server.dataDir, 'grace', 'grace-pass-1', 'user', 'Grace Hopper');
  addUser(server.dataDir, 'alan', 'alan-pass-1', 'user', 'Alan Turing');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  grace = await apiSession(server.url, 'grace', 'grace-pass-1');
  alan = await apiSession(server.url, 'alan', 'alan-pass-1');
  await admin.call('PATCH', '/settings', { name: 'Physics 101' });
  groupA = await admin.call('POST', '/conversations', { name: 'Group A', kind: 'group', member_ids: [grace.user.id] });
  groupB = await admin.call('POST', '/conversations', { name: 'Group B', kind: 'group', member_ids: [alan.user.id] });
  // Written before the feed opens: shown as the recent backlog.
  await grace.call('POST', `/conversations/${groupA.id}/messages`, { body: 'Earlier: we split the tasks', client_id: 'g-0' });

  prof = await newPage(browser, { tag: 'prof', viewport: { width: 1100, height: 720 } });
  await signIn(prof, server.url, 'prof', 'password');
  gracePage = await newPage(browser, { tag: 'grace' });
  await signIn(gracePage, server.url, 'grace', 'grace-pass-1');
  await openConversation(gracePage, 'Group A');
  alanPage = await newPage(browser, { tag: 'alan' });
  await signIn(alanPage, server.url, 'alan', 'alan-pass-1');
  await openConversation(alanPage, 'Group B');
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

const feedItem = (text) => prof.getByTestId('live-item').filter({ hasText: text });

/** The feed's items as [conversation, sender, text], top to bottom. */
async function feedRows() {
  return prof.getByTestId('live-item').evaluateAll((els) =>
    els.map((el) => [
      el.querySelector('[data-testid="live-conversation"]')?.textContent.trim(),
      el.querySelector('[data-testid="live-sender"]')?.textContent.trim(),
      (el.querySelector('[data-testid="live-body"]') ?? el.querySelector('[data-testid="live-deleted"]'))?.textContent.trim(),
    ]),
  );
}

test('two students in two groups post; both appear in the professor’s live feed, in order, labelled, without a reload', async () => {
  await prof.getByTestId('live-tab').click();
  await prof.getByRole('heading', { name: 'Live' }).waitFor();
  assert.equal(new URL(prof.url()).hash, '#live');
  // The recent backlog is there, labelled.
  await feedItem('Earlier: we split the tasks').getByTestId('live-conversation').filter({ hasText: 'Group A' }).waitFor();
  // Mark the document: a reload would lose it.
  await prof.evaluate(() => (window.__sameDocument = true));

  await sendMessage(gracePage, 'Alpha: the force is **9.8 N**');
  await waitForMessage(gracePage, 'Alpha: the force is');
  await feedItem('Alpha: the force is').waitFor();
  await sendMessage(alanPage, 'Beta: we got $E = mc^2$');
  await waitForMessage(alanPage, 'Beta: we got');
  await feedItem('Beta: we got').waitFor();

  const rows = await feedRows();
  const a = rows.findIndex((r) => r[2]?.includes('Alpha: the force is'));
  const b = rows.findIndex((r) => r[2]?.includes('Beta: we got'));
  const early = rows.findIndex((r) => r[2]?.includes('Earlier: we split the tasks'));
  assert.ok(early >= 0 && early < a && a < b, `chronological order, newest last: ${JSON.stringify(rows)}`);
  assert.equal(b, rows.length - 1, 'the newest is at the bottom');
  assert.deepEqual(rows[a].slice(0, 2), ['Group A', 'Grace Hopper']);
  assert.deepEqual(rows[b].slice(0, 2), ['Group B', 'Alan Turing']);
  // Rendered with the safe renderer: Markdown and KaTeX.
  await feedItem('Alpha: the force is').locator('strong', { hasText: '9.8 N' }).waitFor();
  await feedItem('Beta: we got').locator('.katex').first().waitFor();
  assert.equal(await prof.evaluate(() => window.__sameDocument), true, 'no reload');
  // The feed is scrolled to the newest.
  const atBottom = await prof.getByTestId('live-feed').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48);
  assert.ok(atBottom, 'auto-scrolled to the bottom');
  assertClean(prof);
  assertClean(gracePage);
  assertClean(alanPage);
});

test('the professor deletes a student’s message from the feed; it disappears for the student too', async () => {
  const item = feedItem('Alpha: the force is');
  await item.hover();
  await item.getByRole('button', { name: 'Delete message from Grace Hopper' }).click();
  await item.getByRole('button', { name: 'Yes, delete' }).click();
  const gone = prof.getByTestId('live-item').filter({ has: prof.getByTestId('live-deleted') });
  await gone.getByTestId('live-conversation').filter({ hasText: 'Group A' }).waitFor();
  assert.equal(await feedItem('Alpha: the force is').count(), 0);
  // The student sees the placeholder live, and the text is gone.
  await gracePage.getByTestId('message').filter({ has: gracePage.getByTestId('deleted') }).last().waitFor();
  await until(async () => (await gracePage.getByTestId('message').filter({ hasText: 'Alpha: the force is' }).count()) === 0, 'the message gone for Grace');
  const stored = (await admin.call('GET', `/conversations/${groupA.id}/messages?limit=50`)).messages;
  assert.ok(stored.some((m) => m.sender.username === 'grace' && m.deleted), 'deleted on the server');
  // A deletion made elsewhere (the student herself) shows in the feed too.
  await sendMessage(gracePage, 'Oops, wrong group');
  await feedItem('Oops, wrong group').waitFor();
  const mine = (await grace.call('GET', `/conversations/${groupA.id}/messages?limit=50`)).messages.find((m) => m.body === 'Oops, wrong group');
  await grace.call('DELETE', `/messages/${mine.id}`);
  await until(async () => (await feedItem('Oops, wrong group').count()) === 0, 'the feed shows the deletion');
  assertClean(prof);
  assertClean(gracePage);
});

test('mute 15 min from the feed, filter by group or person, pause scrolling; a new conversation joins the feed', async () => {
  const item = feedItem('Beta: we got');
  await item.hover();
  await item.getByRole('button', { name: 'Mute Alan Turing 15 min' }).click();
  await item.getByRole('status').filter({ hasText: /Alan Turing is muted in Group B until \d/ }).waitFor();
  const mutes = (await admin.call('GET', `/conversations/${groupB.id}/mutes`)).mutes;
  assert.deepEqual(mutes.map((x) => x.user.username), ['alan']);
  await admin.call('DELETE', `/conversations/${groupB.id}/mutes/${alan.user.id}`);

  // A conversation created after the feed opened joins it.
  const groupC = await admin.call('POST', '/conversations', { name: 'Group C', kind: 'group', member_ids: [grace.user.id, alan.user.id] });
  await until(async () => (await prof.getByTestId('conversation').filter({ hasText: 'Group C' }).count()) === 1, 'Group C listed');
  await alan.call('POST', `/conversations/${groupC.id}/messages`, { body: 'Gamma: hello from the new group', client_id: 'a-c1' });
  await feedItem('Gamma: hello from the new group').getByTestId('live-conversation').filter({ hasText: 'Group C' }).waitFor();

  // Filter: by group, then by person.
  const filter = prof.getByLabel('Filter the feed');
  await filter.fill('group b');
  await until(async () => {
    const rows = await feedRows();
    return rows.length > 0 && rows.every((r) => r[0] === 'Group B');
  }, 'only Group B');
  await filter.fill('grace');
  await until(async () => {
    const rows = await feedRows();
    return rows.length > 0 && rows.every((r) => r[1] === 'Grace Hopper' || r[2] === 'This message was deleted');
  }, 'only Grace');
  await filter.fill('');

  // Pause: a new message does not scroll the feed.
  const pause = prof.getByTestId('live-pause');
  await pause.click();
  assert.equal(await pause.getAttribute('aria-pressed'), 'true');
  const feed = prof.getByTestId('live-feed');
  await feed.evaluate((el) => (el.scrollTop = 0));
  await alan.call('POST', `/conversations/${groupB.id}/messages`, { body: 'Delta: while paused', client_id: 'a-b2' });
  await feedItem('Delta: while paused').waitFor();
  await prof.getByTestId('live-jump').filter({ hasText: /new message/ }).waitFor();
  assert.equal(await feed.evaluate((el) => el.scrollTop), 0, 'paused: not scrolled');
  await pause.click();
  assert.equal(await pause.getAttribute('aria-pressed'), 'false');
  await until(() => feed.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48), 'scrolled to the newest');
  await prof.getByTestId('live-jump').waitFor({ state: 'detached' });

  // A guest (badge) and a longer message, for the picture.
  await admin.call('PATCH', '/settings', { guest_access: true });
  const code = (await admin.call('GET', '/settings')).join_code;
  const g = await fetch(server.url + '/api/v1/auth/guest', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ display_name: 'Visiting Gus', join_code: code, session: true }),
  });
  assert.equal(g.status, 201, await g.clone().text());
  const gCookie = g.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const gSession = await g.json();
  const general = (await admin.call('GET', '/conversations')).conversations.find((c) => c.name === 'General');
  const posted = await fetch(`${server.url}/api/v1/conversations/${general.id}/messages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: gCookie, 'X-CSRF-Token': gSession.csrf_token },
    body: JSON.stringify({ body: 'Guest here: is the lab open on Friday?', client_id: 'gus-1' }),
  });
  assert.ok(posted.ok, `guest post: ${posted.status}`);
  const guestItem = feedItem('Guest here: is the lab open on Friday?');
  await guestItem.getByTestId('live-conversation').filter({ hasText: 'General' }).waitFor();
  await guestItem.locator('.badge.guest').waitFor();
  await grace.call('POST', `/conversations/${groupA.id}/messages`, { body: 'Here is our plan:\n\n1. measure the period\n2. compute `g`\n3. compare with 9.81', client_id: 'g-3' });
  await feedItem('measure the period').waitFor();
  await shot(prof, 'live-feed.png');
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'live-feed-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });

  // A phone: no horizontal scrolling, the actions still reachable.
  await prof.setViewportSize({ width: 360, height: 740 });
  await feedItem('measure the period').getByRole('button', { name: 'Delete message from Grace Hopper' }).waitFor();
  const wide = await prof.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 360, `page is ${wide} px wide on a 360 px phone`);
  const feedWide = await prof.getByTestId('live-feed').evaluate((el) => el.scrollWidth - el.clientWidth);
  assert.ok(feedWide <= 0, `the feed scrolls sideways by ${feedWide} px`);
  await shot(prof, 'live-feed-phone.png');
  await prof.setViewportSize({ width: 1100, height: 720 });
  assertClean(prof);
});

test('the conversation name opens it; leaving the feed keeps that chat live', async () => {
  await feedItem('Earlier: we split the tasks').getByTestId('live-conversation').click();
  await prof.getByTestId('chat-title').filter({ hasText: 'Group A' }).waitFor();
  assert.equal(new URL(prof.url()).hash, `#c/${groupA.id}`);
  await sendMessage(gracePage, 'Epsilon: still live in the chat');
  await waitForMessage(prof, 'Epsilon: still live in the chat');
  // And back: the feed has everything, the chat's conversation included.
  await prof.getByTestId('live-tab').click();
  await feedItem('Epsilon: still live in the chat').waitFor();
  await prof.getByTestId('conversation').filter({ hasText: 'Group B' }).first().click();
  await prof.getByTestId('chat-title').filter({ hasText: 'Group B' }).waitFor();
  await sendMessage(alanPage, 'Zeta: after leaving the feed');
  await waitForMessage(prof, 'Zeta: after leaving the feed');
  assertClean(prof);
});

test('a past session offers its transcript; the printable page holds the session’s messages, escaped', async () => {
  const payload = '<img src=x onerror="alert(1)"> & <b>bold</b>';
  await admin.call('POST', '/sessions', { name: 'Lab 3' });
  await grace.call('POST', `/conversations/${groupA.id}/messages`, { body: payload, client_id: 'g-s1' });
  await alan.call('POST', `/conversations/${groupB.id}/messages`, { body: 'Session note from Alan', client_id: 'a-s1' });
  const s = await admin.call('GET', '/sessions');
  await admin.call('POST', `/sessions/${s.sessions[0].id}/end`);

  await prof.goto(server.url + '/#console');
  const card = prof.getByTestId('session-card');
  await card.getByText(/Past sessions/).click();
  const row = card.getByTestId('past-session').filter({ hasText: 'Lab 3' });
  await row.waitFor();
  await card.screenshot({ path: `${SHOTS}/session-transcripts.png` });
  const [download] = await Promise.all([prof.waitForEvent('download'), row.getByRole('link', { name: 'Printable transcript of Lab 3' }).click()]);
  const html = readFileSync(await download.path(), 'utf8');
  assert.match(html, /Lab 3/);
  assert.match(html, /Session note from Alan/);
  assert.ok(html.includes('&lt;img src=x onerror=') && html.includes('&lt;b&gt;bold&lt;/b&gt;'), 'the payload is escaped');
  assert.ok(!html.includes('<img src=x'), 'no live markup from a message');
  assert.ok(!/<script/i.test(html), 'no script');

  const csvHref = await row.getByRole('link', { name: 'CSV transcript of Lab 3' }).getAttribute('href');
  const jsonHref = await row.getByRole('link', { name: 'JSON transcript of Lab 3' }).getAttribute('href');
  assert.equal(csvHref, `/api/v1/sessions/${s.sessions[0].id}/transcript?format=csv`);
  const [csv, json] = await prof.evaluate(async ([a, b]) => [await (await fetch(a)).text(), await (await fetch(b)).text()], [csvHref, jsonHref]);
  assert.match(csv, /Session note from Alan/);
  assert.ok(json.includes('Session note from Alan'));
  assertClean(prof);
});
