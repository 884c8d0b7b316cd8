// Browser end-to-end tests against the real binary (scripts/test-web.sh runs them).
// node --test runs the tests of this file in order; they share one server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server,
  addUser,
  apiSession,
  launch,
  newPage,
  shot,
  signIn,
  openConversation,
  sendMessage,
  waitForMessage,
  until,
  convItem,
} from './harness.mjs';

const server = new Server();
let browser;
let prof; // page of the professor
let student; // page of a registered student
let admin; // REST session of the professor
let joinCode;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  joinCode = (await admin.call('GET', '/settings')).join_code;
  assert.match(joinCode, /\S+/);
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

test('join page shows the class name and the ways to join', async () => {
  await admin.call('PATCH', '/settings', { name: 'Physics 101' });
  const page = await newPage(browser);
  await page.goto(server.url + '/');
  await page.getByRole('heading', { name: 'Physics 101' }).waitFor();
  for (const t of ['Join as guest', 'Register', 'Sign in']) await page.getByRole('tab', { name: t }).waitFor();
  await page.getByRole('tab', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill('prof');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The server's error message is shown as it is.
  const alert = page.getByRole('alert').first();
  await alert.waitFor();
  assert.ok((await alert.textContent()).trim().length > 0);
  await page.getByRole('tab', { name: 'Join as guest' }).click();
  await shot(page, 'join.png');
  assertClean(page);
  await page.context().close();
});

test('professor and a registered student exchange messages live', async () => {
  prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
  await openConversation(prof, 'General');

  student = await newPage(browser, { tag: 'student' });
  await student.goto(server.url + '/');
  await student.getByRole('tab', { name: 'Register' }).click();
  await student.getByLabel('Your name').fill('Grace Hopper');
  await student.getByLabel('Username').fill('grace');
  await student.getByLabel('Password').fill('student-pass-1');
  await student.getByLabel('Class code').fill(joinCode);
  await student.getByRole('button', { name: 'Create account' }).click();
  await student.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await openConversation(student, 'General');

  await sendMessage(prof, 'Welcome to **Physics 101**! Today: $E = mc^2$');
  await waitForMessage(student, 'Welcome to Physics 101');
  // Markdown and KaTeX rendered on the receiving side.
  const body = student.getByTestId('message').filter({ hasText: 'Welcome to' }).getByTestId('body');
  await body.locator('strong', { hasText: 'Physics 101' }).waitFor();
  await body.locator('.katex').first().waitFor();

  await sendMessage(student, 'Hello professor, I have a question about `F = ma`');
  await waitForMessage(prof, 'Hello professor');
  await prof.getByTestId('message').filter({ hasText: 'Hello professor' }).locator('code', { hasText: 'F = ma' }).waitFor();

  // Shift+Enter makes a new line; Enter sends both lines as one message.
  const box = student.getByTestId('composer');
  await box.fill('line one');
  await box.press('Shift+Enter');
  await box.pressSequentially('line two');
  await box.press('Enter');
  await waitForMessage(prof, 'line two');
  const text = await prof.getByTestId('message').filter({ hasText: 'line two' }).getByTestId('body').innerText();
  assert.match(text, /line one\s*\n\s*line two/);

  // Exactly what the server stored, once each.
  const stored = (await admin.call('GET', '/conversations/1/messages?limit=200')).messages;
  assert.equal(stored.filter((m) => m.body.startsWith('Hello professor')).length, 1);
  assert.equal(stored.find((m) => m.body.startsWith('Hello professor')).sender.username, 'grace');

  // The member list (with the newcomer who auto-joined General).
  await prof.getByRole('button', { name: 'Members' }).click();
  await prof.getByTestId('members').getByText('Grace Hopper').waitFor();
  await shot(prof, 'chat.png');
  await prof.emulateMedia({ colorScheme: 'dark' });
  await shot(prof, 'chat-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });
  await prof.getByRole('button', { name: 'Close members' }).click();

  // Typing shows up on the other side (the server relays at most one frame per 2 s).
  // Keep typing, as a person does, until the indicator shows (both ends throttle to one per 2 s).
  const typingLine = prof.getByText('Grace Hopper is typing…');
  await until(async () => {
    await student.getByTestId('composer').press('x');
    return typingLine.isVisible();
  }, 'the typing indicator');
  await student.getByTestId('composer').fill('');
  assertClean(prof);
  assertClean(student);
});

test('unread badge appears for a conversation with new messages', async () => {
  const graceUser = (await admin.call('GET', '/users?q=grace')).users.find((u) => u.username === 'grace');
  const lab = await admin.call('POST', '/conversations', { name: 'Lab group', kind: 'group', member_ids: [graceUser.id] });
  // The student learns about the new conversation live (conversation_updated), no reload.
  await convItem(student, 'Lab group').waitFor();
  await openConversation(student, 'General');
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: 'Lab starts at 10', client_id: 'lab-1' });
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: 'Bring goggles', client_id: 'lab-2' });
  const badge = convItem(student, 'Lab group').getByTestId('unread');
  await until(async () => (await badge.textContent())?.trim() === '2', 'unread badge 2');
  await openConversation(student, 'Lab group');
  await waitForMessage(student, 'Bring goggles');
  await badge.waitFor({ state: 'detached' });
  // The read marker reached the server: a fresh list says 0 unread.
  const grace = await apiSession(server.url, 'grace', 'student-pass-1');
  await until(async () => (await grace.call('GET', '/conversations')).conversations.find((c) => c.id === lab.id).unread === 0, 'unread 0 on the server');
  await openConversation(student, 'General');
});

test('a student starts a direct message and creates a group', async () => {
  await student.getByRole('button', { name: 'New direct message' }).click();
  const dialog = student.getByRole('dialog', { name: 'New direct message' });
  await dialog.getByLabel('Search people').fill('ada');
  await dialog.getByRole('button', { name: /Prof\. Ada/ }).click();
  await student.getByTestId('chat-title').filter({ hasText: 'Prof. Ada' }).waitFor();
  await sendMessage(student, 'Can we talk after class?');
  await waitForMessage(student, 'Can we talk after class?');
  // The professor learns about the new conversation and sees it unread.
  const dm = convItem(prof, 'Grace Hopper');
  await dm.getByTestId('unread').waitFor();
  await dm.click();
  await prof.getByTestId('chat-title').filter({ hasText: 'Grace Hopper' }).waitFor();
  await waitForMessage(prof, 'Can we talk after class?');
  await sendMessage(prof, 'Sure, see you at 3.');
  await waitForMessage(student, 'Sure, see you at 3.');

  await student.getByRole('button', { name: 'New group' }).click();
  const g = student.getByRole('dialog', { name: 'New group' });
  await g.getByLabel('Group name').fill('Study group');
  await g.getByRole('button', { name: 'Create group' }).click();
  await student.getByTestId('chat-title').filter({ hasText: 'Study group' }).waitFor();
  await sendMessage(student, 'first!');
  await waitForMessage(student, 'first!');
  await openConversation(student, 'General');
  await openConversation(prof, 'General');
  assertClean(student);
  assertClean(prof);
});

test('guest joins with the code from the URL and chats', async () => {
  const guest = await newPage(browser);
  await guest.goto(`${server.url}/?code=${encodeURIComponent(joinCode)}`);
  const code = guest.getByLabel('Class code');
  await code.waitFor();
  assert.equal(await code.inputValue(), joinCode);
  assert.equal(await guest.getByRole('tab', { name: 'Join as guest' }).getAttribute('aria-selected'), 'true');
  await guest.getByLabel('Your name').fill('Visiting Alan');
  await guest.getByRole('button', { name: 'Join the chat' }).click();
  await guest.getByRole('navigation', { name: 'Conversations' }).waitFor();
  assert.ok(!guest.url().includes('code='), 'the code leaves the address bar');
  await openConversation(guest, 'General');
  await waitForMessage(guest, 'Welcome to Physics 101');
  await sendMessage(guest, 'Hi all, guest here');
  await waitForMessage(prof, 'Hi all, guest here');
  await prof.getByTestId('message').filter({ hasText: 'Hi all, guest here' }).locator('.badge.guest').waitFor();
  assertClean(guest);
  await guest.context().close();
});

test('the professor deletes a message and the student sees it go', async () => {
  await sendMessage(student, 'oops, wrong chat');
  await waitForMessage(prof, 'oops, wrong chat');
  const msg = prof.getByTestId('message').filter({ hasText: 'oops, wrong chat' });
  await msg.hover();
  await msg.getByRole('button', { name: 'Delete message' }).click();
  await msg.getByRole('button', { name: 'Delete', exact: true }).click();
  await student.getByTestId('message').filter({ hasText: 'oops, wrong chat' }).waitFor({ state: 'detached' });
  await student.getByTestId('deleted').first().waitFor();
  await prof.getByTestId('message').filter({ hasText: 'oops, wrong chat' }).waitFor({ state: 'detached' });
  const stored = (await admin.call('GET', '/conversations/1/messages?limit=200')).messages;
  const del = stored.filter((m) => m.deleted);
  assert.equal(del.length, 1);
  assert.equal(del[0].body, '');
});

test('XSS payloads render as inert text', async () => {
  const payloads = ['<img src=x onerror=alert(1)>', '<script>alert(1)</script>', '[x](javascript:alert(1))', '<svg onload=alert(1)>'];
  for (const p of payloads) await sendMessage(student, p);
  await waitForMessage(prof, '<svg onload=alert(1)>');
  for (const page of [prof, student]) {
    for (const p of ['<img src=x onerror=alert(1)>', '<script>alert(1)</script>', '<svg onload=alert(1)>']) {
      await waitForMessage(page, p);
    }
    const found = await page.evaluate(() => {
      const bodies = Array.from(document.querySelectorAll('[data-testid="body"]'));
      const bad = [];
      for (const b of bodies) {
        for (const el of b.querySelectorAll('*')) {
          if (['SCRIPT', 'IMG', 'IFRAME'].includes(el.tagName) || (el.tagName === 'svg' && !el.closest('.katex'))) bad.push(el.outerHTML);
          for (const a of el.attributes) {
            if (/^on/i.test(a.name)) bad.push(`${el.tagName} ${a.name}`);
            if (/href|src/i.test(a.name) && /^\s*javascript:/i.test(a.value)) bad.push(`${el.tagName} ${a.name}=${a.value}`);
          }
        }
      }
      return bad;
    });
    assert.deepEqual(found, []);
    // The link text stays, without a link.
    const link = page.getByTestId('message').filter({ hasText: /^x$|\bx\b/ }).last();
    await link.waitFor();
    assert.equal(await page.locator('[data-testid="body"] a[href^="javascript"]').count(), 0);
    assertClean(page);
  }
});

test('history scrolls back with before_seq', async () => {
  const c = await admin.call('POST', '/conversations', { name: 'Archive', kind: 'group' });
  for (let i = 1; i <= 120; i++) await admin.call('POST', `/conversations/${c.id}/messages`, { body: `archived ${i}`, client_id: `arch-${i}` });
  await prof.reload();
  await prof.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await openConversation(prof, 'Archive');
  await waitForMessage(prof, 'archived 120');
  assert.equal(await prof.getByTestId('message').filter({ hasText: /^archived 1$/ }).count(), 0);
  // Scroll to the top until the first message is there.
  await until(
    async () => {
      await prof.getByRole('log', { name: 'Messages' }).evaluate((el) => el.scrollTo(0, 0));
      return (await prof.locator('[data-testid="message"][data-seq="1"]').count()) === 1;
    },
    'message seq 1 after scrolling up',
  );
  await prof.getByText('This is the beginning of Archive').waitFor();
  const seqs = await prof.locator('[data-testid="message"]').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
  assert.deepEqual(seqs, Array.from({ length: 120 }, (_, i) => i + 1), 'every message once, in order');
  await openConversation(prof, 'General');
});

test('a message typed while the server is down arrives exactly once after restart', async () => {
  await openConversation(student, 'General');
  await server.kill();
  await student.getByTestId('offline-banner').waitFor();
  await prof.getByTestId('offline-banner').waitFor();

  const text = `typed while offline ${Date.now()}`;
  await sendMessage(student, text);
  const pending = student.getByTestId('pending').filter({ hasText: text });
  await pending.waitFor();
  assert.equal(await student.getByTestId('message').filter({ hasText: text }).count(), 0);

  await server.start(); // same port, same data dir
  await student.getByTestId('offline-banner').waitFor({ state: 'detached', timeout: 45_000 });
  await waitForMessage(student, text, 45_000);
  await pending.waitFor({ state: 'detached' });
  await waitForMessage(prof, text, 45_000);

  admin = await apiSession(server.url, 'prof', 'password');
  const stored = (await admin.call('GET', '/conversations/1/messages?limit=200')).messages;
  assert.equal(stored.filter((m) => m.body === text).length, 1, 'stored once');
  // And shown once on both sides, live stream and resent send deduplicated.
  await until(async () => (await student.getByTestId('message').filter({ hasText: text }).count()) === 1, 'shown once (student)');
  assert.equal(await prof.getByTestId('message').filter({ hasText: text }).count(), 1);

  // The conversation keeps working after the restart.
  await sendMessage(prof, 'back online');
  await waitForMessage(student, 'back online');
  // Still once, after later traffic on the same sockets (no late duplicate).
  assert.equal(await student.getByTestId('message').filter({ hasText: text }).count(), 1);
  assert.equal(await prof.getByTestId('message').filter({ hasText: text }).count(), 1);
  assert.equal(await student.getByTestId('pending').count(), 0);
  assertClean(student);
});

test('a 360 px phone can join and chat', async () => {
  const phone = await newPage(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await signIn(phone, server.url, 'grace', 'student-pass-1');
  // List first; the conversation opens full-screen.
  await convItem(phone, 'General').click();
  await phone.getByTestId('chat-title').filter({ hasText: 'General' }).waitFor();
  assert.equal(await phone.getByRole('navigation', { name: 'Conversations' }).isVisible(), false);
  await waitForMessage(phone, 'back online');
  await sendMessage(phone, 'sent from my phone');
  await waitForMessage(prof, 'sent from my phone');
  await waitForMessage(phone, 'sent from my phone');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
  const composer = await phone.getByTestId('composer').boundingBox();
  assert.ok(composer && composer.y + composer.height <= 740 && composer.x >= 0 && composer.x + composer.width <= 360, 'composer on screen');
  await shot(phone, 'phone.png');
  await phone.getByRole('button', { name: 'Back to conversations' }).click();
  await phone.getByRole('navigation', { name: 'Conversations' }).waitFor();
  assertClean(phone);
  await phone.context().close();
});

test('admin console shows a QR code, the addresses and a working Rotate code', async () => {
  await prof.goto(server.url + '/#console');
  await prof.getByTestId('qr').locator('svg path').first().waitFor();
  const console = await admin.call('GET', '/console');
  await prof.getByText(console.join_urls[0]).waitFor();
  assert.equal((await prof.getByTestId('console-code').textContent()).trim(), console.join_code);
  await until(async () => Number(await prof.getByTestId('online-count').textContent()) >= 1, 'online count');
  await shot(prof, 'console.png');
  await prof.getByRole('button', { name: 'Rotate code' }).click();
  await until(async () => (await prof.getByTestId('console-code').textContent()).trim() !== console.join_code, 'a new code');
  const after = await admin.call('GET', '/settings');
  assert.equal((await prof.getByTestId('console-code').textContent()).trim(), after.join_code);
  assertClean(prof);
});

test('admin users view creates a student and disables them', async () => {
  await prof.goto(server.url + '/#users');
  const form = prof.getByRole('form', { name: 'Create a user' });
  await form.getByLabel('Username').fill('linus');
  await form.getByLabel('Display name').fill('Linus T.');
  await form.getByLabel('Password').fill('linus-pass-1');
  await form.getByRole('button', { name: 'Create user' }).click();
  const row = prof.getByTestId('user-row').filter({ hasText: '@linus' });
  await row.waitFor();
  await row.getByRole('button', { name: 'Disable' }).click();
  // Disabling asks first, naming the person.
  const ask = prof.getByTestId('disable-dialog');
  await ask.getByText('Linus T.', { exact: false }).first().waitFor();
  await ask.getByRole('button', { name: 'Disable' }).click();
  await row.getByRole('button', { name: 'Enable' }).waitFor();
  const u = (await admin.call('GET', '/users?q=linus')).users.find((x) => x.username === 'linus');
  assert.equal(u.disabled, true);
  // A taken username shows the server's message.
  await form.getByLabel('Username').fill('linus');
  await form.getByLabel('Display name').fill('Linus again');
  await form.getByLabel('Password').fill('x-pass-123');
  await form.getByRole('button', { name: 'Create user' }).click();
  await form.getByRole('alert').waitFor();
  await shot(prof, 'users.png');
  assertClean(prof);
});

test('class settings change what the join page offers', async () => {
  await prof.goto(server.url + '/#settings');
  await prof.getByTestId('join-code').waitFor();
  await prof.getByLabel('Nobody (you create the accounts)').check();
  await prof.getByLabel(/Allow guests/).uncheck();
  await prof.getByRole('button', { name: 'Save settings' }).click();
  await prof.getByText('Settings saved.').waitFor();
  await shot(prof, 'settings.png');
  const info = await (await fetch(server.url + '/api/v1/info')).json();
  assert.equal(info.registration, 'closed');
  assert.equal(info.guest_access, false);
  const page = await newPage(browser);
  await page.goto(server.url + '/');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.equal(await page.getByRole('tab').count(), 0, 'only sign-in is offered');
  await page.context().close();
  await prof.getByLabel('Anyone with the class code').check();
  await prof.getByLabel(/Allow guests/).check();
  await prof.getByRole('button', { name: 'Save settings' }).click();
  await until(async () => (await (await fetch(server.url + '/api/v1/info')).json()).guest_access === true, 'guests allowed again');
  assertClean(prof);
});

test('a locked conversation refuses student messages with a readable reason', async () => {
  await prof.goto(server.url + '/#c/1');
  await prof.getByTestId('chat-title').filter({ hasText: 'General' }).waitFor();
  await prof.getByRole('button', { name: 'Lock conversation' }).click();
  await prof.getByRole('button', { name: 'Unlock conversation' }).waitFor();
  await student.getByText('This conversation is locked.').waitFor();
  await prof.getByRole('button', { name: 'Unlock conversation' }).click();
  await student.getByTestId('composer').waitFor();
});

test('a student edits the profile (display name) and sees server errors for a wrong password', async () => {
  await student.getByRole('button', { name: 'Account menu' }).click();
  await student.getByRole('menuitem', { name: 'Profile' }).click();
  const dlg = student.getByRole('dialog', { name: 'Your profile' });
  await dlg.getByLabel('Current password').fill('not my password');
  await dlg.getByLabel(/New password/).fill('another-pass-2');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.getByRole('alert').waitFor();
  await dlg.getByLabel(/New password/).fill('');
  await dlg.getByLabel('Current password').fill('');
  await dlg.getByLabel('Display name').fill('Grace B. Hopper');
  await dlg.getByRole('button', { name: 'Save' }).click();
  await dlg.waitFor({ state: 'detached' });
  await student.getByRole('navigation', { name: 'Conversations' }).getByText('Grace B. Hopper').waitFor();
  const grace = await apiSession(server.url, 'grace', 'student-pass-1');
  assert.equal((await grace.call('GET', '/me')).display_name, 'Grace B. Hopper');
  assertClean(student);
});

test('XSS in display names and conversation names renders as text', async () => {
  const evilName = '<img src=x onerror=alert(1)> Eve';
  const evilGroup = '<svg onload=alert(2)> Group';
  await admin.call('POST', '/users', { username: 'xssname', password: 'password', display_name: evilName, role: 'user' });
  const eve = await apiSession(server.url, 'xssname', 'password');
  const conv = await eve.call('POST', '/conversations', { name: evilGroup });
  await eve.call('POST', `/conversations/${conv.id}/messages`, { body: 'hello from eve' });
  await eve.call('POST', '/conversations/1/messages', { body: 'eve in general' });
  await prof.reload();
  await prof.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await openConversation(prof, evilGroup);
  await waitForMessage(prof, 'hello from eve');
  await prof.getByText(evilName).first().waitFor();
  await openConversation(prof, 'General');
  await waitForMessage(prof, 'eve in general');
  const bad = await prof.evaluate(() => {
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
      for (const a of el.attributes) if (/^on/i.test(a.name)) out.push(`${el.tagName} ${a.name}`);
      if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') out.push(el.outerHTML);
    }
    if (/<|onerror|onload/.test(document.title) && document.querySelector('title')?.children.length) out.push('title');
    return out;
  });
  assert.deepEqual(bad, []);
  assertClean(prof);
});
