// Deleting a conversation in the browser against the real binary: a dialog
// names what goes, Cancel keeps it, Delete moves it to the trash, the
// professor restores it from the Trash view and the student sees it again
// with its history. Removing a member asks first too. The tests of this file
// run in order and share one server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, openConversation, convItem, waitForMessage, assertClean } from './harness.mjs';

const server = new Server();
let browser;
let prof;
let student;
let admin;
let lab;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  addUser(server.dataDir, 'grace', 'grace-pass-1', 'user', 'Grace Hopper');
  addUser(server.dataDir, 'alan', 'alan-pass-1', 'user', 'Alan Turing');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  const grace = await apiSession(server.url, 'grace', 'grace-pass-1');
  const alan = await apiSession(server.url, 'alan', 'alan-pass-1');
  lab = await admin.call('POST', '/conversations', { name: 'Chemistry lab', kind: 'group', member_ids: [grace.user.id, alan.user.id] });
  await grace.call('POST', `/conversations/${lab.id}/messages`, { body: 'Who has the titration results?', client_id: 'g-1' });
  await alan.call('POST', `/conversations/${lab.id}/messages`, { body: 'Uploading them tonight', client_id: 'a-1' });

  prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
  await openConversation(prof, 'Chemistry lab');
  student = await newPage(browser, { tag: 'grace' });
  await signIn(student, server.url, 'grace', 'grace-pass-1');
  await openConversation(student, 'Chemistry lab');
  await waitForMessage(student, 'titration results');
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

test('Delete conversation asks first, naming the conversation, its messages and members; Cancel keeps it', async () => {
  await prof.getByRole('button', { name: 'Members', exact: true }).click();
  await prof.getByTestId('members').getByText('Grace Hopper').waitFor();
  await prof.getByTestId('delete-conversation').click();
  const dialog = prof.getByRole('dialog', { name: 'Delete “Chemistry lab”?' });
  await dialog.waitFor();
  assert.equal(await dialog.getByRole('heading').textContent(), 'Delete “Chemistry lab”?');
  await dialog.getByText('Its 2 messages and 3 members disappear for everyone at once:').waitFor();
  const names = await dialog.getByTestId('delete-dialog-members').textContent();
  for (const n of ['Prof. Ada', 'Grace Hopper', 'Alan Turing']) assert.ok(names.includes(n), `the dialog names ${n}: ${names}`);
  await dialog.getByTestId('delete-dialog-restore').filter({ hasText: 'restore it from the Trash for 30 days' }).waitFor();
  // Cancel has the focus: Enter alone never deletes.
  assert.equal(await prof.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'confirm-cancel');
  await shot(prof, 'trash-delete-dialog.png');
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'trash-delete-dialog-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });

  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  // Esc cancels too (the dialog is the shared Modal).
  await prof.getByTestId('delete-conversation').click();
  await dialog.waitFor();
  await prof.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  const got = await admin.call('GET', `/conversations/${lab.id}`);
  assert.equal(got.name, 'Chemistry lab');
  assert.equal((await admin.call('GET', '/trash')).conversations.length, 0);
  assertClean(prof);
});

test('Remove from conversation asks first, naming the member', async () => {
  await prof.getByRole('button', { name: 'Remove Alan Turing' }).click();
  const dialog = prof.getByRole('dialog', { name: 'Remove Alan Turing?' });
  await dialog.getByText('Alan Turing leaves “Chemistry lab” at once', { exact: false }).waitFor();
  await shot(prof, 'trash-remove-member-dialog.png');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  let members = (await admin.call('GET', `/conversations/${lab.id}/members`)).members.map((m) => m.user.username);
  assert.ok(members.includes('alan'), 'cancel keeps the member');
  await prof.getByRole('button', { name: 'Remove Alan Turing' }).click();
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  await prof.getByTestId('member').filter({ hasText: '@alan' }).waitFor({ state: 'detached' });
  members = (await admin.call('GET', `/conversations/${lab.id}/members`)).members.map((m) => m.user.username);
  assert.ok(!members.includes('alan'), 'confirm removes the member');
  assertClean(prof);
});

test('confirming moves it to the trash: gone for the student at once', async () => {
  await prof.getByTestId('delete-conversation').click();
  const dialog = prof.getByRole('dialog', { name: 'Delete “Chemistry lab”?' });
  await dialog.getByRole('button', { name: 'Delete conversation' }).click();
  await dialog.waitFor({ state: 'detached' });
  await convItem(prof, 'Chemistry lab').waitFor({ state: 'detached' });
  await convItem(student, 'Chemistry lab').waitFor({ state: 'detached' });
  const trash = (await admin.call('GET', '/trash')).conversations;
  assert.deepEqual(trash.map((x) => x.conversation.name), ['Chemistry lab']);
  assertClean(prof);
  assertClean(student);
});

test('the professor restores it from the Trash view and the student sees it again, history intact', async () => {
  await prof.getByTestId('trash-tab').click();
  const view = prof.getByTestId('trash-view');
  const row = view.getByTestId('trash-row').filter({ hasText: 'Chemistry lab' });
  await row.waitFor();
  await row.getByText('Prof. Ada').waitFor();
  await row.getByText('2 messages · 2 members').waitFor();
  await view.getByText('for 30 days', { exact: false }).waitFor();
  await shot(prof, 'trash-view.png');
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'trash-view-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });

  await row.getByRole('button', { name: 'Restore Chemistry lab' }).click();
  await view.getByRole('status').filter({ hasText: '“Chemistry lab” is back for its members.' }).waitFor();
  await view.getByText('The trash is empty.').waitFor();
  await convItem(prof, 'Chemistry lab').waitFor();
  // Live on the student's side, without a reload.
  await convItem(student, 'Chemistry lab').waitFor();
  await openConversation(student, 'Chemistry lab');
  await waitForMessage(student, 'titration results');
  await waitForMessage(student, 'Uploading them tonight');
  const msgs = (await admin.call('GET', `/conversations/${lab.id}/messages?after_seq=0`)).messages;
  assert.deepEqual(msgs.map((m) => m.seq), [1, 2]);
  const audit = (await admin.call('GET', '/audit')).entries.map((e) => e.action);
  assert.ok(audit.includes('conversation.delete') && audit.includes('conversation.restore'), `audit: ${audit}`);
  assertClean(prof);
  assertClean(student);
});

test('Disable asks first, naming the person; Cancel keeps the account', async () => {
  await prof.getByRole('link', { name: 'Users' }).click();
  const row = prof.getByTestId('user-row').filter({ hasText: '@alan' });
  await row.getByRole('button', { name: 'Disable' }).click();
  const dialog = prof.getByRole('dialog', { name: 'Disable Alan Turing?' });
  await dialog.getByText('Alan Turing (@alan) is signed out at once', { exact: false }).waitFor();
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'trash-disable-dialog-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  const alan = (await admin.call('GET', '/users?q=alan')).users.find((u) => u.username === 'alan');
  assert.equal(alan.disabled, false);
  assertClean(prof);
});
