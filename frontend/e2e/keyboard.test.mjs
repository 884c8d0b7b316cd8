// Keyboard only: one whole conversation without the mouse — sign in, open a conversation
// (focus lands in its composer), the skip link, send, move through the messages with the
// arrows, open a message's actions, react, open a thread and close it with Esc (focus comes
// back), search and Esc back. Also counts the Tab presses from the top of the page to the
// composer in a 3-message and a 24-message conversation (the list is one tab stop, so the
// two are equal) and to "Start session" on the console.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, shot, until, assertClean } from './harness.mjs';

const server = new Server();
let browser;
let admin;
let grace;
let lab;
let big;
let root;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('POST', '/users', { username: 'grace', password: 'student-pass-1', display_name: 'Grace Hopper', role: 'user' });
  grace = await apiSession(server.url, 'grace', 'student-pass-1');
  lab = await admin.call('POST', '/conversations', { name: 'Lab', kind: 'group', member_ids: [grace.user.id] });
  root = await admin.call('POST', `/conversations/${lab.id}/messages`, { body: 'Question about entropy', client_id: 'k-1' });
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: 'See chapter 4', client_id: 'k-2', reply_to: root.id });
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: 'Lab is on Friday', client_id: 'k-3' });
  big = await admin.call('POST', '/conversations', { name: 'Big', kind: 'group', member_ids: [grace.user.id] });
  for (let i = 1; i <= 24; i++) await admin.call('POST', `/conversations/${big.id}/messages`, { body: `filler ${i}`, client_id: `b-${i}` });
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

/** What has focus, described for assertions. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const msg = el?.closest('[data-testid="message"]');
    return {
      tag: el?.tagName ?? '',
      testid: el?.getAttribute('data-testid') ?? '',
      text: (el?.textContent ?? '').trim().slice(0, 80),
      label: el?.getAttribute('aria-label') ?? '',
      role: el?.getAttribute('role') ?? '',
      isMessage: el === msg && !!msg,
      inMessage: msg?.getAttribute('data-id') ?? '',
    };
  });
}

/** Presses Tab (or Shift+Tab) until `match(focused)` holds; returns how many presses it took. */
async function tabTo(page, match, what, { max = 60, shift = false } = {}) {
  for (let n = 1; n <= max; n++) {
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
    if (match(await focused(page))) return n;
  }
  throw new Error(`${what}: not reached in ${max} ${shift ? 'Shift+Tab' : 'Tab'} presses (last: ${JSON.stringify(await focused(page))})`);
}

/** Sequential focus navigation from the very top of the page (as after a load). */
async function fromTop(page) {
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
}

const isComposer = (f) => f.testid === 'composer';

/** Tab presses from the top of the page to the composer, without the skip link. */
async function tabsToComposer(page) {
  await fromTop(page);
  await page.keyboard.press('Tab');
  assert.equal((await focused(page)).testid, 'skip-link', 'the skip link is the first tab stop');
  return 1 + (await tabTo(page, isComposer, 'the composer'));
}

test('one whole conversation by keyboard alone', async () => {
  const page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await page.goto(server.url + '/');
  await page.getByRole('tab', { name: 'Sign in' }).waitFor();

  // Sign in.
  await tabTo(page, (f) => f.role === 'tab' && f.text === 'Sign in', 'the Sign in tab');
  await page.keyboard.press('Enter');
  await tabTo(page, (f) => f.tag === 'INPUT' && f.testid !== 'skip-link', 'the username field');
  await page.keyboard.type('grace');
  await page.keyboard.press('Tab');
  await page.keyboard.type('student-pass-1');
  await page.keyboard.press('Enter');
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();

  // Open "Lab" from the sidebar: focus moves to its composer.
  await tabTo(page, (f) => f.text.startsWith('Lab'), 'the Lab conversation');
  await page.keyboard.press('Enter');
  await page.getByTestId('chat-title').filter({ hasText: 'Lab' }).waitFor();
  await page.getByTestId('message').filter({ hasText: 'Lab is on Friday' }).waitFor();
  await until(async () => isComposer(await focused(page)), 'focus in the composer after opening the conversation');

  // The skip link: the first tab stop, straight to the composer.
  await fromTop(page);
  await page.keyboard.press('Tab');
  const skip = await focused(page);
  assert.equal(skip.testid, 'skip-link');
  assert.equal(skip.text, 'Skip to message composer');
  await shot(page, 'keyboard-skip-link.png');
  await page.keyboard.press('Enter');
  assert.ok(isComposer(await focused(page)), 'the skip link focuses the composer');

  // Send.
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Enter');
  await page.getByTestId('message').filter({ hasText: 'Typed without a mouse' }).waitFor();
  await until(async () => (await page.getByTestId('pending').count()) === 0, 'the send confirmed');

  // Back into the list: one tab stop, the newest message.
  const back = await tabTo(page, (f) => f.isMessage, 'the message list', { shift: true, max: 8 });
  const ids = await page.getByTestId('message').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
  assert.equal((await focused(page)).inMessage, ids.at(-1), 'the list is entered at the newest message');
  assert.ok(back <= 4, `composer → list in ${back} Shift+Tab presses`);
  // Only one message is a tab stop, and no action button is.
  const stops = await page.evaluate(() => {
    return Array.from(document.querySelectorAll('[data-testid="message"], [data-testid="message"] button, [data-testid="message"] a[href]')).filter((e) => e.tabIndex >= 0).length;
  });
  assert.equal(stops, 1, 'the message list is a single tab stop');

  // Arrows, Home, End.
  await page.keyboard.press('ArrowUp');
  assert.equal((await focused(page)).inMessage, ids.at(-2));
  await page.keyboard.press('Home');
  assert.equal((await focused(page)).inMessage, ids[0]);
  await page.keyboard.press('End');
  assert.equal((await focused(page)).inMessage, ids.at(-1));
  await page.keyboard.press('Home');
  assert.equal((await focused(page)).inMessage, String(root.id), 'the thread root is the first message');
  await shot(page, 'keyboard-message-focus.png');

  // Enter opens the message's actions; react through the picker.
  await page.keyboard.press('Enter');
  let f = await focused(page);
  assert.equal(f.inMessage, String(root.id));
  assert.equal(f.label, 'Add reaction', 'Enter focuses the first action');
  await page.keyboard.press('Enter');
  await page.getByTestId('reaction-picker').waitFor();
  await page.keyboard.press('Enter'); // the first emoji
  const chip = page.getByTestId('message').filter({ hasText: 'Question about entropy' }).getByTestId('reaction');
  await chip.waitFor();
  assert.equal(await chip.getAttribute('aria-pressed'), 'true');
  f = await focused(page);
  assert.equal(f.label, 'Add reaction', 'focus is back on the reaction button after picking');
  // Esc in the picker closes it and returns too.
  await page.keyboard.press('Enter');
  await page.getByTestId('reaction-picker').waitFor();
  await page.keyboard.press('Escape');
  await page.getByTestId('reaction-picker').waitFor({ state: 'detached' });
  assert.equal((await focused(page)).label, 'Add reaction', 'Esc closes the picker, focus back on its button');

  // The thread: Tab within the open message to its replies button, Enter, then Esc.
  await tabTo(page, (f) => f.testid === 'reply-count', 'the replies button', { max: 12 });
  assert.equal((await focused(page)).inMessage, String(root.id));
  await page.keyboard.press('Enter');
  await page.getByTestId('thread-panel').waitFor();
  await until(async () => (await focused(page)).testid === 'thread-composer', 'focus in the thread');
  await page.keyboard.press('Escape');
  await page.getByTestId('thread-panel').waitFor({ state: 'detached' });
  f = await focused(page);
  assert.equal(f.testid, 'reply-count', 'Esc closed the thread and focus is back on the replies button');
  assert.equal(f.inMessage, String(root.id));
  // Esc from an action goes back to the message itself.
  await page.keyboard.press('Escape');
  f = await focused(page);
  assert.ok(f.isMessage && f.inMessage === String(root.id), 'Esc from an action returns to its message');

  // Search and Esc back to where it was opened from.
  await page.keyboard.press('End');
  await page.keyboard.press('Control+k');
  await page.getByTestId('search-input').waitFor();
  assert.equal((await focused(page)).testid, 'search-input');
  await page.keyboard.type('entropy');
  await until(async () => (await page.getByTestId('search-result').count()) > 0, 'a search result');
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('search-input').inputValue(), '', 'the first Esc clears the box');
  await page.keyboard.press('Escape');
  await page.getByTestId('chat-title').filter({ hasText: 'Lab' }).waitFor();
  await until(async () => isComposer(await focused(page)), 'focus back in the conversation');

  // A dialog: the members panel by keyboard, Esc closes it, focus back on its button.
  await tabTo(page, (f) => f.label === 'Members', 'the Members button', { shift: true, max: 20 });
  await page.keyboard.press('Enter');
  await page.getByRole('complementary', { name: 'Members' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('complementary', { name: 'Members' }).waitFor({ state: 'detached' });
  assert.equal((await focused(page)).label, 'Members');
  assertClean(page);
  await page.context().close();
});

test('Tab presses to the composer do not grow with the conversation; "Start session" within a few Tabs', async () => {
  const figures = {};
  for (const [who, pass] of [['grace', 'student-pass-1'], ['prof', 'password']]) {
    const page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
    await page.goto(server.url + '/');
    await page.getByRole('tab', { name: 'Sign in' }).click();
    await page.getByLabel('Username').fill(who);
    await page.getByLabel('Password').fill(pass);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
    for (const [c, n, last] of [[lab, 3, 'Lab is on Friday'], [big, 24, 'filler 24']]) {
      await page.evaluate((h) => (location.hash = h), `#c/${c.id}`);
      await page.getByTestId('message').filter({ hasText: last }).waitFor();
      assert.ok((await page.getByTestId('message').count()) >= n);
      figures[`${who}: composer, ${n} messages`] = await tabsToComposer(page);
    }
    assert.equal(figures[`${who}: composer, 3 messages`], figures[`${who}: composer, 24 messages`], 'the message list is one tab stop');
    if (who === 'prof') {
      await page.evaluate(() => (location.hash = '#console'));
      await page.getByTestId('session-name').waitFor();
      await fromTop(page);
      const withSkip = await (async () => {
        await page.keyboard.press('Tab');
        assert.equal((await focused(page)).text, 'Skip to main content');
        await page.keyboard.press('Enter');
        return 1 + (await tabTo(page, (f) => f.testid === 'start-session', '"Start session" after the skip link', { max: 10 }));
      })();
      await fromTop(page);
      figures['prof: Start session, skip link + Enter + Tabs'] = withSkip;
      figures['prof: Start session, Tabs only'] = await tabTo(page, (f) => f.testid === 'start-session', '"Start session"', { max: 40 });
      assert.ok(withSkip <= 8, `Start session in ${withSkip} key presses`);
    }
    await page.context().close();
  }
  console.log('key presses from the top of the page:\n' + Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n'));
});
