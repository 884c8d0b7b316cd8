// Everyday features in the browser against the real binary: edit, reactions, replies
// and threads, mentions, attachments. Professor and student in two pages, one server.
// node --test runs the tests of this file in order; they share the pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, openConversation, sendMessage, waitForMessage, until, assertClean } from './harness.mjs';

const server = new Server();
let browser;
let prof; // the professor's page
let student; // the student's page
let admin; // REST session of the professor

/** A real PNG (w×h, a colour gradient), so the server can read its size and make a thumbnail. */
function makePng(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = Math.round((x / w) * 255);
      raw[o + 1] = Math.round((y / h) * 255);
      raw[o + 2] = 180;
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const msgWith = (page, text) => page.getByTestId('message').filter({ has: page.getByTestId('body').filter({ hasText: text }) });

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('PATCH', '/settings', { name: 'Physics 101' });
  // Created by the professor: joins the auto-join conversations (General).
  await admin.call('POST', '/users', { username: 'grace', password: 'student-pass-1', display_name: 'Grace Hopper', role: 'user' });

  prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
  await openConversation(prof, 'General');
  student = await newPage(browser, { tag: 'student' });
  await signIn(student, server.url, 'grace', 'student-pass-1');
  await openConversation(student, 'General');
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

test('the student edits a message; the professor sees "(edited)" and the new text, and its history', async () => {
  await sendMessage(student, 'The answer is 41');
  await waitForMessage(prof, 'The answer is 41');

  const mine = msgWith(student, 'The answer is 41');
  await mine.hover();
  await mine.getByRole('button', { name: 'Edit message' }).click();
  const box = student.getByTestId('edit-box');
  await box.waitFor();
  assert.equal(await box.inputValue(), 'The answer is 41');
  await box.fill('The answer is 42');
  await box.press('Enter');
  await box.waitFor({ state: 'detached' });

  const theirs = msgWith(prof, 'The answer is 42');
  await theirs.getByTestId('edited').waitFor();
  assert.match(await theirs.getByTestId('edited').getAttribute('title'), /^Edited /);
  assert.equal(await msgWith(prof, 'The answer is 41').count(), 0);
  await msgWith(student, 'The answer is 42').getByTestId('edited').waitFor();

  // Up-arrow in the empty composer edits the last own message; Esc cancels.
  await student.getByTestId('composer').click();
  await student.getByTestId('composer').press('ArrowUp');
  await student.getByTestId('edit-box').waitFor();
  await student.getByTestId('edit-box').press('Escape');
  await student.getByTestId('edit-box').waitFor({ state: 'detached' });

  // The professor (admin) reads the earlier text.
  await theirs.hover();
  await theirs.getByRole('button', { name: 'Edit history' }).click();
  const dlg = prof.getByRole('dialog', { name: 'Edit history' });
  await dlg.getByTestId('edit-history').getByText('The answer is 41').waitFor();
  await dlg.getByRole('button', { name: 'Close' }).click();
  // Students have no history action.
  await msgWith(student, 'The answer is 42').hover();
  assert.equal(await msgWith(student, 'The answer is 42').getByRole('button', { name: 'Edit history' }).count(), 0);
  assertClean(prof);
  assertClean(student);
});

test('the professor reacts; the student sees the chip, its count and who', async () => {
  const theirs = msgWith(prof, 'The answer is 42');
  await theirs.hover();
  await theirs.getByRole('button', { name: 'Add reaction' }).click();
  await prof.getByTestId('reaction-picker').getByRole('button', { name: 'React with 👍' }).click();
  const chipP = theirs.locator('[data-testid="reaction"][data-emoji="👍"]');
  await until(async () => (await chipP.getAttribute('aria-pressed')) === 'true', 'the professor’s own chip highlighted');

  const chip = msgWith(student, 'The answer is 42').locator('[data-testid="reaction"][data-emoji="👍"]');
  await until(async () => (await chip.locator('.n').textContent())?.trim() === '1', 'the student sees 👍 1');
  assert.match(await chip.getAttribute('title'), /Prof\. Ada/);
  assert.equal(await chip.getAttribute('aria-pressed'), 'false');
  // The student adds theirs by clicking the chip: 2 on both sides.
  await chip.click();
  await until(async () => (await chip.locator('.n').textContent())?.trim() === '2' && (await chip.getAttribute('aria-pressed')) === 'true', 'the student’s 👍 counted');
  await until(async () => (await chipP.locator('.n').textContent())?.trim() === '2', 'the professor sees 👍 2');
  // Any single emoji from the text field.
  await theirs.hover();
  await theirs.getByRole('button', { name: 'Add reaction' }).click();
  await prof.getByTestId('reaction-picker').getByLabel('Any emoji').fill('🚀');
  await shot(prof, 'everyday-reaction-picker.png');
  await prof.getByTestId('reaction-picker').getByRole('button', { name: 'Add' }).click();
  await msgWith(student, 'The answer is 42').locator('[data-testid="reaction"][data-emoji="🚀"]').waitFor();
  const stored = (await admin.call('GET', '/conversations/1/messages?limit=50')).messages.find((m) => m.body === 'The answer is 42');
  assert.deepEqual(
    stored.reactions.map((r) => [r.emoji, r.count]),
    [
      ['👍', 2],
      ['🚀', 1],
    ],
  );
  await student.mouse.move(1, 1);
  await shot(student, 'everyday-edit-react.png');
  assertClean(prof);
  assertClean(student);
});

test('the student replies; the quote shows, the thread panel lists the replies', async () => {
  await sendMessage(prof, 'Question: what is Newton’s second law?\nThink about it.');
  await waitForMessage(student, 'Question: what is Newton');
  const q = msgWith(student, 'Question: what is Newton');
  await q.hover();
  await q.getByRole('button', { name: 'Reply' }).click();
  await student.getByTestId('reply-target').getByText('Question: what is Newton’s second law?').waitFor();
  await sendMessage(student, 'F = m·a');
  await student.getByTestId('reply-target').waitFor({ state: 'detached' });

  const reply = msgWith(prof, 'F = m·a');
  await reply.waitFor();
  const quote = reply.getByTestId('reply-quote');
  await quote.getByText('Grace Hopper').waitFor({ state: 'detached' }).catch(() => undefined);
  assert.match(await quote.innerText(), /Prof\. Ada[\s\S]*Question: what is Newton’s second law\?/);
  assert.doesNotMatch(await quote.innerText(), /Think about it/, 'only the first line is quoted');
  const count = msgWith(prof, 'Question: what is Newton').getByTestId('reply-count');
  await until(async () => /1 reply/.test(await count.innerText()), '"1 reply" on the question');

  // The professor opens the thread and answers there.
  await count.click();
  const panel = prof.getByTestId('thread-panel');
  await panel.getByTestId('thread-reply').filter({ hasText: 'F = m·a' }).waitFor();
  await panel.getByLabel('Reply in thread').fill('Correct, well done!');
  await panel.getByLabel('Reply in thread').press('Enter');
  await panel.getByTestId('thread-reply').filter({ hasText: 'Correct, well done!' }).waitFor();
  await until(async () => /2 replies/.test(await count.innerText()), '"2 replies" on the question');
  // The student's side: the thread reply arrives with its quote, the count follows.
  const threadReply = msgWith(student, 'Correct, well done!');
  await threadReply.getByTestId('reply-quote').waitFor();
  await until(async () => /2 replies/.test(await msgWith(student, 'Question: what is Newton').getByTestId('reply-count').innerText()), 'the student sees 2 replies');
  const stored = (await admin.call('GET', '/conversations/1/messages?limit=50')).messages;
  const parent = stored.find((m) => m.body.startsWith('Question:'));
  assert.equal(parent.reply_count, 2);
  assert.equal(stored.find((m) => m.body === 'F = m·a').reply_to.id, parent.id);

  // Clicking a quote scrolls to the original and flashes it.
  await threadReply.getByTestId('reply-quote').click();
  await until(async () => (await msgWith(student, 'Question: what is Newton').getAttribute('class')).includes('flash'), 'the original flashes');
  await shot(prof, 'everyday-thread.png');
  await prof.getByRole('button', { name: 'Close thread' }).click();
  assertClean(prof);
  assertClean(student);
});

test('a quote of a message further back loads older history and shows it', async () => {
  const c = await admin.call('POST', '/conversations', { name: 'Long talk', kind: 'group', member_ids: [(await admin.call('GET', '/users?q=grace')).users[0].id] });
  const first = await admin.call('POST', `/conversations/${c.id}/messages`, { body: 'the very first point', client_id: 'lt-0' });
  for (let i = 1; i <= 70; i++) await admin.call('POST', `/conversations/${c.id}/messages`, { body: `filler ${i}`, client_id: `lt-${i}` });
  await admin.call('POST', `/conversations/${c.id}/messages`, { body: 'back to the first point', client_id: 'lt-last', reply_to: first.id });
  await student.reload();
  await student.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await openConversation(student, 'Long talk');
  await waitForMessage(student, 'back to the first point');
  assert.equal(await msgWith(student, 'the very first point').count(), 0, 'not loaded yet');
  await msgWith(student, 'back to the first point').getByTestId('reply-quote').click();
  const orig = msgWith(student, 'the very first point');
  await orig.waitFor();
  await until(async () => (await orig.getAttribute('class')).includes('flash'), 'the loaded original flashes');
  await openConversation(student, 'General');
  assertClean(student);
});

test('the professor mentions @grace with the autocomplete; the student sees it highlighted', async () => {
  const box = prof.getByTestId('composer');
  await box.click();
  await box.pressSequentially('Thanks @gra');
  const list = prof.getByTestId('mention-list');
  await list.getByRole('option', { name: /@grace/ }).waitFor();
  await shot(prof, 'everyday-mention-autocomplete.png');
  await box.press('Enter');
  await list.waitFor({ state: 'detached' });
  assert.equal(await box.inputValue(), 'Thanks @grace ');
  await box.pressSequentially('please summarise for everyone');
  await box.press('Enter');

  const m = msgWith(student, 'please summarise for everyone');
  await m.waitFor();
  await until(async () => (await m.getAttribute('data-mentioned')) === 'true', 'the message is marked as mentioning the student');
  await m.locator('.mention.mention-me', { hasText: '@grace' }).waitFor();
  const bg = await m.evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.notEqual(bg, 'rgba(0, 0, 0, 0)', 'a highlighted background');
  // On the professor's side the name is highlighted, the message is not "mentioning me".
  await msgWith(prof, 'please summarise').locator('.mention', { hasText: '@grace' }).waitFor();
  assert.equal(await msgWith(prof, 'please summarise').getAttribute('data-mentioned'), 'false');
  // A student is not offered @all.
  const sbox = student.getByTestId('composer');
  await sbox.click();
  await sbox.pressSequentially('@a');
  await student.getByTestId('mention-list').waitFor();
  assert.equal(await student.getByTestId('mention-list').getByRole('option', { name: /@all/ }).count(), 0);
  await sbox.press('Escape');
  await sbox.fill('');
  await shot(student, 'everyday-mention.png');
  assertClean(prof);
  assertClean(student);
});

test('the student uploads a PNG; the professor sees the thumbnail and downloads the same bytes', async () => {
  const png = makePng(320, 200);
  // A refused file first: the server's reason shows in the tray; remove it.
  await student.getByTestId('file-input').setInputFiles({ name: 'install.sh', mimeType: 'text/x-sh', buffer: Buffer.from('#!/bin/sh\necho hi\n') });
  const bad = student.getByTestId('upload-item').filter({ hasText: 'install.sh' });
  await until(async () => (await bad.getAttribute('data-status')) === 'error', 'the refused upload shows an error');
  assert.ok((await bad.getByRole('alert').innerText()).trim().length > 0, 'the server’s reason is shown');
  await bad.getByRole('button', { name: 'Remove install.sh' }).click();
  await bad.waitFor({ state: 'detached' });

  await student.getByTestId('file-input').setInputFiles({ name: 'graph.png', mimeType: 'image/png', buffer: png });
  const item = student.getByTestId('upload-item').filter({ hasText: 'graph.png' });
  await until(async () => (await item.getAttribute('data-status')) === 'done', 'the upload finishes');
  await student.getByTestId('composer').fill('Here is my graph');
  await shot(student, 'everyday-upload-tray.png');
  await student.getByTestId('composer').press('Enter');
  await student.getByTestId('upload-tray').waitFor({ state: 'detached' });

  const m = msgWith(prof, 'Here is my graph');
  const img = m.getByTestId('attachment-image').locator('img');
  await img.waitFor();
  await until(async () => img.evaluate((el) => el.complete && el.naturalWidth > 0), 'the thumbnail loads');
  assert.equal(await img.getAttribute('width'), '240');
  assert.equal(await img.getAttribute('height'), '150');
  const href = await m.getByTestId('attachment-download').getAttribute('href');
  assert.match(href, /^\/api\/v1\/attachments\/\d+\?download=1$/);
  const got = await prof.evaluate(async (u) => {
    const r = await fetch(u);
    return { status: r.status, cd: r.headers.get('content-disposition'), bytes: Array.from(new Uint8Array(await r.arrayBuffer())) };
  }, href);
  assert.equal(got.status, 200);
  assert.match(got.cd ?? '', /attachment/);
  assert.deepEqual(Buffer.from(got.bytes), png, 'the same bytes');

  // The lightbox shows the full image.
  await m.getByTestId('attachment-image').click();
  const box = prof.getByTestId('lightbox');
  await until(async () => box.locator('img').evaluate((el) => el.complete && el.naturalWidth === 320), 'the full image in the lightbox');
  await shot(prof, 'everyday-upload.png');
  await prof.getByRole('button', { name: 'Close image' }).click();
  await box.waitFor({ state: 'detached' });

  // A file with only an attachment (no text) is a message too, shown as a file chip.
  await student.getByTestId('file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('lab notes\n') });
  await until(async () => (await student.getByTestId('upload-item').filter({ hasText: 'notes.txt' }).getAttribute('data-status')) === 'done', 'notes.txt uploaded');
  await student.getByRole('button', { name: 'Send message' }).click();
  const chip = prof.getByTestId('attachment-file').filter({ hasText: 'notes.txt' });
  await chip.waitFor();
  assert.match(await chip.getAttribute('href'), /^\/api\/v1\/attachments\/\d+\?download=1$/);

  // Dropping a file on the conversation and pasting one into the composer fill the tray too.
  const dt = await student.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['dropped text'], 'dropped.txt', { type: 'text/plain' }));
    return d;
  });
  await student.getByRole('log', { name: 'Messages' }).dispatchEvent('dragenter', { dataTransfer: dt });
  await student.getByRole('log', { name: 'Messages' }).dispatchEvent('drop', { dataTransfer: dt });
  const dropped = student.getByTestId('upload-item').filter({ hasText: 'dropped.txt' });
  await until(async () => (await dropped.getAttribute('data-status')) === 'done', 'the dropped file uploaded');
  await student.getByTestId('composer').evaluate((el, bytes) => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: d, bubbles: true, cancelable: true }));
  }, Array.from(png));
  await until(async () => (await student.getByTestId('upload-item').filter({ hasText: 'image.png' }).getAttribute('data-status')) === 'done', 'the pasted image uploaded');
  await student.getByTestId('upload-item').filter({ hasText: 'image.png' }).getByRole('button', { name: /^Remove / }).click();
  await dropped.getByRole('button', { name: 'Remove dropped.txt' }).click();
  await student.getByTestId('upload-tray').waitFor({ state: 'detached' });
  assertClean(prof);
  assertClean(student);
});

test('dark mode and a 360 px phone show the everyday features without overflow', async () => {
  await prof.emulateMedia({ colorScheme: 'dark' });
  await msgWith(prof, 'The answer is 42').scrollIntoViewIfNeeded();
  await prof.mouse.move(1, 1);
  await shot(prof, 'everyday-dark.png');
  await prof.emulateMedia({ colorScheme: 'light' });

  const phone = await newPage(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await signIn(phone, server.url, 'grace', 'student-pass-1');
  await phone.getByTestId('conversation').filter({ hasText: 'General' }).first().click();
  await waitForMessage(phone, 'Here is my graph');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
  // A tap shows a message's actions; Reply sets the target.
  const m = msgWith(phone, 'please summarise');
  await m.scrollIntoViewIfNeeded();
  await m.getByTestId('body').tap();
  await m.getByRole('button', { name: 'Reply' }).tap();
  await phone.getByTestId('reply-target').waitFor();
  const composer = await phone.getByTestId('composer').boundingBox();
  assert.ok(composer && composer.x >= 0 && composer.x + composer.width <= 360, 'composer on screen');
  await shot(phone, 'everyday-phone.png');
  assertClean(phone);
  await phone.context().close();
});
