// Moderation in the browser (issue 6) against the real binary: mute, slow mode,
// pins, pause all, DM policy, announcements and the audit log. The tests of this
// file run in order and share one server (scripts/test-web.sh runs every file in e2e/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, openConversation, sendMessage, waitForMessage, until } from './harness.mjs';

const server = new Server();
let browser;
let prof; // the professor's page
let student; // Grace's page
let admin; // the professor's REST session
let grace; // Grace's REST session
let seminar; // the group conversation used throughout

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  addUser(server.dataDir, 'grace', 'grace-pass-1', 'user', 'Grace Hopper');
  addUser(server.dataDir, 'alan', 'alan-pass-1', 'user', 'Alan Turing');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  grace = await apiSession(server.url, 'grace', 'grace-pass-1');
  const alan = await apiSession(server.url, 'alan', 'alan-pass-1');
  seminar = await admin.call('POST', '/conversations', { name: 'Seminar', kind: 'group', member_ids: [grace.user.id, alan.user.id] });
  await grace.call('POST', `/conversations/${seminar.id}/messages`, { body: 'Is the lab report due Friday?', client_id: 'g-1' });
  await alan.call('POST', `/conversations/${seminar.id}/messages`, { body: 'I think so', client_id: 'a-1' });

  prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
  await openConversation(prof, 'Seminar');
  student = await newPage(browser, { tag: 'grace' });
  await signIn(student, server.url, 'grace', 'grace-pass-1');
  await openConversation(student, 'Seminar');
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

const stored = async () => (await admin.call('GET', `/conversations/${seminar.id}/messages?limit=200`)).messages;

test('the professor mutes a student, who sees it and whose sends are refused with the end time', async () => {
  await prof.getByRole('button', { name: 'Members', exact: true }).click();
  const members = prof.getByTestId('members');
  await members.getByText('Grace Hopper').waitFor();
  // Professors cannot be muted: no Mute button on their own row or another admin's.
  assert.equal(await prof.getByRole('button', { name: /^Mute Prof\. Ada/ }).count(), 0);

  await prof.getByRole('button', { name: 'Mute Grace Hopper…' }).click();
  await prof.getByRole('group', { name: 'Mute Grace Hopper for' }).getByRole('button', { name: '15 min' }).click();
  const row = members.getByTestId('member').filter({ hasText: '@grace' });
  await row.getByTestId('muted-badge').waitFor();
  await row.getByRole('button', { name: 'Unmute Grace Hopper' }).waitFor();
  const mutes = (await admin.call('GET', `/conversations/${seminar.id}/mutes`)).mutes;
  assert.deepEqual(mutes.map((m) => m.user.username), ['grace']);
  const minutes = (new Date(mutes[0].until).getTime() - Date.now()) / 60_000;
  assert.ok(minutes > 13 && minutes <= 15, `muted for 15 minutes (${minutes.toFixed(1)})`);

  // The custom duration form is there for the other student.
  await prof.getByRole('button', { name: 'Mute Alan Turing…' }).click();
  const box = prof.getByRole('group', { name: 'Mute Alan Turing for' });
  await box.getByRole('spinbutton', { name: 'Minutes' }).fill('45');
  await shot(prof, 'moderation-members.png');
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'moderation-members-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });
  await box.getByRole('button', { name: 'Mute', exact: true }).click();
  await members.getByTestId('member').filter({ hasText: '@alan' }).getByTestId('muted-badge').waitFor();

  // Live on the student's side: the composer says why and until when.
  await student.getByTestId('composer-blocked').filter({ hasText: /You are muted in this conversation until \d/ }).waitFor();
  await student.getByRole('button', { name: 'Members', exact: true }).click();
  await student.getByTestId('members').getByTestId('member').filter({ hasText: '@grace' }).getByTestId('muted-badge').waitFor();
  await student.getByRole('button', { name: 'Close members' }).click();

  // A fresh page does not know about the mute: the server's refusal is shown, with the end time.
  await student.reload();
  await student.getByTestId('chat-title').filter({ hasText: 'Seminar' }).waitFor();
  await waitForMessage(student, 'I think so');
  await sendMessage(student, 'can I still talk?');
  await student.getByTestId('pending').filter({ hasText: /Not sent: you are muted in this conversation until \d/ }).waitFor();
  await student.getByTestId('composer-blocked').filter({ hasText: 'You are muted' }).waitFor();
  assert.equal((await stored()).filter((m) => m.body === 'can I still talk?').length, 0, 'not stored');
  await student.getByTestId('pending').getByRole('button', { name: 'Discard' }).click();

  // Unmute: the student can write again at once.
  await prof.getByRole('button', { name: 'Unmute Grace Hopper' }).click();
  await prof.getByRole('button', { name: 'Unmute Alan Turing' }).click();
  await student.getByTestId('composer').waitFor();
  await sendMessage(student, 'thanks, back again');
  await waitForMessage(prof, 'thanks, back again');
  assert.equal(await prof.getByTestId('muted-badge').count(), 0);
  await prof.getByRole('button', { name: 'Close members' }).click();
  assertClean(prof);
  assertClean(student);
});

test('slow mode: the header says so and a second message too soon is refused with the wait', async () => {
  await prof.getByRole('button', { name: 'Conversation settings' }).click();
  await prof.getByLabel('Slow mode').selectOption({ label: '30 s' });
  await prof.getByTestId('slow-mode').filter({ hasText: 'Slow mode: 30 s' }).waitFor();
  await student.getByTestId('slow-mode').filter({ hasText: 'Slow mode: 30 s' }).waitFor();
  assert.equal((await admin.call('GET', `/conversations/${seminar.id}`)).slow_mode_seconds, 30);

  await sendMessage(student, 'slow one');
  await sendMessage(student, 'slow two');
  await student.getByTestId('pending').filter({ hasText: 'slow two' }).filter({ hasText: /Not sent: slow mode: wait \d+ s/ }).waitFor();
  await student.getByTestId('slow-wait').filter({ hasText: /you can send again in \d+ s/ }).waitFor();
  assert.equal((await stored()).filter((m) => m.body === 'slow two').length, 0, 'the refused one is not stored');
  // Owners and professors are not limited.
  await sendMessage(prof, 'prof one');
  await sendMessage(prof, 'prof two');
  await waitForMessage(student, 'prof two');

  await prof.getByLabel('Slow mode').selectOption({ label: 'Off' });
  await student.getByTestId('slow-mode').waitFor({ state: 'detached' });
  await prof.keyboard.press('Escape');
  while ((await student.getByTestId('pending').count()) > 0) await student.getByTestId('pending').first().getByRole('button', { name: 'Discard' }).click();
  assertClean(prof);
  assertClean(student);
});

test('a pinned message is marked and listed in the Pinned panel for the student', async () => {
  const msg = prof.getByTestId('message').filter({ hasText: 'Is the lab report due Friday?' });
  await msg.hover();
  await msg.getByRole('button', { name: 'Pin message' }).click();
  await msg.getByTestId('pinned-mark').waitFor();
  const onStudent = student.getByTestId('message').filter({ hasText: 'Is the lab report due Friday?' });
  await onStudent.getByTestId('pinned-mark').waitFor();
  // Students cannot pin.
  assert.equal(await student.getByRole('button', { name: 'Pin message' }).count(), 0);

  await student.getByRole('button', { name: 'Pinned messages' }).click();
  const item = student.getByTestId('pinned-item').filter({ hasText: 'Is the lab report due Friday?' });
  await item.waitFor();
  await item.getByRole('button', { name: /Grace Hopper/ }).click();
  await until(async () => (await onStudent.getAttribute('class'))?.includes('flash'), 'the message flashes after the jump', 5000);
  const pins = (await grace.call('GET', `/conversations/${seminar.id}/pins`)).messages;
  assert.deepEqual(pins.map((m) => m.body), ['Is the lab report due Friday?']);

  // Unpinned from the professor's panel: gone on both sides.
  await prof.getByRole('button', { name: 'Pinned messages' }).click();
  await prof.getByRole('button', { name: 'Unpin message from Grace Hopper' }).click();
  await item.waitFor({ state: 'detached' });
  await onStudent.getByTestId('pinned-mark').waitFor({ state: 'detached' });
  // Pin it again for the audit log and the record.
  await msg.hover();
  await msg.getByRole('button', { name: 'Pin message' }).click();
  await item.waitFor();
  await prof.getByRole('button', { name: 'Close pinned messages' }).click();
  await student.getByRole('button', { name: 'Close pinned messages' }).click();
  assertClean(prof);
  assertClean(student);
});

test('pause all shows the banner to everyone and blocks sending; the DM policy is a class setting', async () => {
  await prof.goto(server.url + '/#settings');
  const pause = prof.getByRole('switch', { name: 'Pause all conversations' });
  await pause.check();
  await prof.getByTestId('paused-banner').waitFor();
  await student.getByTestId('paused-banner').filter({ hasText: 'The professor has paused the class' }).waitFor();
  await student.getByTestId('composer-blocked').filter({ hasText: 'paused the class' }).waitFor();
  assert.equal((await admin.call('GET', '/settings')).paused, true);

  // Someone who signs in during the pause knows it from GET /info…
  const late = await newPage(browser, { tag: 'late' });
  await signIn(late, server.url, 'alan', 'alan-pass-1');
  await openConversation(late, 'Seminar');
  await late.getByTestId('paused-banner').waitFor();
  await late.getByTestId('composer-blocked').filter({ hasText: 'paused the class' }).waitFor();
  await late.context().close();
  // …and a client that does not (GET /info without "paused", as before this server
  // version) shows the server's refusal when a send is refused, then the banner.
  const alan = await newPage(browser, { tag: 'alan' });
  await alan.route('**/api/v1/info', async (route) => {
    const res = await route.fetch();
    const { paused: _drop, ...rest } = await res.json();
    await route.fulfill({ response: res, json: rest });
  });
  await signIn(alan, server.url, 'alan', 'alan-pass-1');
  await openConversation(alan, 'Seminar');
  await waitForMessage(alan, 'prof two');
  assert.equal(await alan.getByTestId('paused-banner').count(), 0);
  await sendMessage(alan, 'is anyone there?');
  await alan.getByTestId('pending').filter({ hasText: 'Not sent: the class is paused by the professor' }).waitFor();
  await alan.getByTestId('paused-banner').waitFor();
  await alan.getByTestId('composer-blocked').waitFor();
  assert.equal((await stored()).filter((m) => m.body === 'is anyone there?').length, 0);

  // The DM policy: a select that applies at once.
  await prof.getByLabel('Direct messages').selectOption('staff');
  await prof.getByText('Direct messages: students may message professors only.').waitFor();
  assert.equal((await admin.call('GET', '/settings')).dm_policy, 'staff');
  await prof.getByLabel('Direct messages').selectOption('anyone');
  await until(async () => (await admin.call('GET', '/settings')).dm_policy === 'anyone', 'dm_policy anyone');
  // The group policy: the same kind of select; a student's new group is refused with the reason.
  await prof.getByLabel('Groups').selectOption('staff');
  await prof.getByText('Groups: only professors create groups.').waitFor();
  assert.equal((await admin.call('GET', '/settings')).group_policy, 'staff');
  await student.getByRole('button', { name: 'New group' }).click();
  const g = student.getByRole('dialog', { name: 'New group' });
  await g.getByLabel('Group name').fill('Secret club');
  await g.getByRole('button', { name: 'Create group' }).click();
  await g.getByRole('alert').filter({ hasText: 'in this class only staff can create groups' }).waitFor();
  await g.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await admin.call('GET', '/conversations')).conversations.filter((c) => c.name === 'Secret club').length, 0);
  await prof.getByLabel('Groups').selectOption('anyone');
  await until(async () => (await admin.call('GET', '/settings')).group_policy === 'anyone', 'group_policy anyone');

  // Resume from the banner.
  await prof.getByTestId('paused-banner').getByRole('button', { name: 'Resume' }).click();
  await student.getByTestId('paused-banner').waitFor({ state: 'detached' });
  await alan.getByTestId('paused-banner').waitFor({ state: 'detached' });
  assert.equal(await pause.isChecked(), false);
  await student.getByTestId('composer').waitFor();
  while ((await alan.getByTestId('pending').count()) > 0) await alan.getByTestId('pending').first().getByRole('button', { name: 'Discard' }).click();
  assertClean(alan);
  await alan.context().close();
  assertClean(prof);
  assertClean(student);
});

test('an announcement from the console reaches every group', async () => {
  await prof.goto(server.url + '/#console');
  await prof.getByLabel('Announcement').fill('**Quiz** on Friday at 10');
  await prof.getByRole('button', { name: 'Announce' }).click();
  await prof.getByText(/Posted to \d+ groups?\./).waitFor();
  await waitForMessage(student, 'Quiz on Friday at 10');
  await student.getByTestId('message').filter({ hasText: 'Quiz on Friday at 10' }).locator('strong', { hasText: 'Quiz' }).waitFor();
  // The professor's own announcement does not show up as unread for them.
  await until(async () => (await prof.getByTestId('unread').count()) === 0, 'no unread badge for the professor');
  const general = (await admin.call('GET', '/conversations/1/messages?limit=5')).messages;
  assert.ok(general.some((m) => m.body === '**Quiz** on Friday at 10'), 'General has it too');
  assertClean(prof);
});

test('the audit log lists the actions, filters by action and actor, and loads more', async () => {
  await prof.goto(server.url + '/#audit');
  const rows = prof.getByTestId('audit-row');
  await rows.first().waitFor();
  for (const action of ['member.mute', 'member.unmute', 'conversation.update', 'message.pin', 'message.unpin', 'settings.update', 'announcement.post']) {
    assert.ok((await prof.locator(`[data-testid="audit-row"][data-action="${action}"]`).count()) >= 1, `an entry for ${action}`);
  }
  const first = rows.first();
  assert.equal(await first.getAttribute('data-action'), 'announcement.post', 'newest first');
  await first.getByText('Prof. Ada').waitFor();
  await shot(prof, 'audit-log.png');

  await prof.getByTestId('audit-action').selectOption('member.mute');
  await until(async () => {
    const a = await rows.evaluateAll((els) => els.map((e) => e.dataset.action));
    return a.length === 2 && a.every((x) => x === 'member.mute');
  }, 'two member.mute rows');
  await rows.filter({ hasText: 'Grace Hopper' }).waitFor();
  await prof.getByTestId('audit-actor').selectOption({ label: 'Grace Hopper (@grace)' });
  await prof.getByText('No entries match these filters.').waitFor();
  await prof.getByTestId('audit-actor').selectOption('');
  await prof.getByTestId('audit-action').selectOption('');

  // More than one page: "Load more" asks for before_id and shows every entry once.
  const msgs = await stored();
  const target = msgs.find((m) => m.body === 'I think so');
  for (let i = 0; i < 30; i++) {
    await admin.call('POST', `/messages/${target.id}/pin`);
    await admin.call('DELETE', `/messages/${target.id}/pin`);
  }
  await prof.getByRole('button', { name: 'Refresh' }).click();
  await prof.getByRole('button', { name: 'Load more' }).waitFor();
  assert.equal(await rows.count(), 50);
  await prof.getByRole('button', { name: 'Load more' }).click();
  await until(async () => (await rows.count()) > 50, 'the second page');
  const total = (await admin.call('GET', '/audit?limit=200')).entries.length;
  await until(async () => (await rows.count()) === Math.min(total, 100), `all ${total} entries (up to two pages)`);
  const ids = await rows.evaluateAll((els) => els.map((e) => e.querySelector('time')?.getAttribute('datetime')));
  assert.ok(ids.every(Boolean));
  assertClean(prof);
});

test('a phone shows the moderation controls without horizontal scrolling', async () => {
  const phone = await newPage(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await signIn(phone, server.url, 'prof', 'password');
  await phone.goto(server.url + `/#c/${seminar.id}`);
  await phone.getByTestId('chat-title').filter({ hasText: 'Seminar' }).waitFor();
  await phone.getByRole('button', { name: 'Members', exact: true }).click();
  await phone.getByRole('button', { name: 'Mute Grace Hopper…' }).click();
  await phone.getByRole('group', { name: 'Mute Grace Hopper for' }).waitFor();
  let overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling in the members panel (${overflow}px)`);
  await phone.goto(server.url + '/#audit');
  await phone.getByTestId('audit-row').first().waitFor();
  overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling in the audit log (${overflow}px)`);
  await shot(phone, 'audit-log-phone.png');
  assertClean(phone);
  await phone.context().close();
});
