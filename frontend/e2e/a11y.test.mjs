// Accessibility: axe-core (through @axe-core/playwright, which drives playwright-core
// directly) on every screen, at phone and desktop width, in light and dark. A screen
// passes with 0 critical and 0 serious violations (WCAG 2.0/2.1 A and AA rules); the
// per-screen counts by impact are printed as a table.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, until, assertClean } from './harness.mjs';

const server = new Server();
let browser;
let admin;
let group;
let rootMsg;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('PATCH', '/settings', { name: 'Physics 101', flag_words: ['zeppelin'] });
  await admin.call('POST', '/users', { username: 'grace', password: 'student-pass-1', display_name: 'Grace Hopper', role: 'user' });
  const grace = await apiSession(server.url, 'grace', 'student-pass-1');
  group = await admin.call('POST', '/conversations', { name: 'Lab', kind: 'group', member_ids: [grace.user.id] });
  rootMsg = await grace.call('POST', `/conversations/${group.id}/messages`, { body: 'Question about **entropy** $S = k \\ln W$', client_id: 'g-1' });
  await admin.call('POST', `/conversations/${group.id}/messages`, { body: 'Good question, see chapter 4', client_id: 'p-1', reply_to: rootMsg.id });
  await grace.call('POST', `/conversations/${group.id}/messages`, { body: '@prof the zeppelin lab is on Friday? `code` and a [link](https://example.org)', client_id: 'g-2' });
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

const VARIANTS = [
  { name: 'desktop light', viewport: { width: 1280, height: 800 }, colorScheme: 'light' },
  { name: 'desktop dark', viewport: { width: 1280, height: 800 }, colorScheme: 'dark' },
  { name: 'phone light', viewport: { width: 390, height: 844 }, colorScheme: 'light', isMobile: true, hasTouch: true },
  { name: 'phone dark', viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true },
];

/** rows[screen][variant] = { critical, serious, moderate, minor } */
const rows = new Map();
const failures = [];
/** Moderate and minor findings, listed (not failing) so they can be looked at. */
const notes = new Set();

async function check(page, screen, variant) {
  // Animations finished, fonts loaded: axe reads final colours.
  await page.evaluate(() => document.fonts.ready);
  const res = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const counts = { critical: 0, serious: 0, moderate: 0, minor: 0 };
  for (const v of res.violations) {
    counts[v.impact] = (counts[v.impact] ?? 0) + v.nodes.length;
    if (v.impact === 'moderate' || v.impact === 'minor') notes.add(`${screen}: ${v.id} [${v.impact}] ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    if (v.impact === 'critical' || v.impact === 'serious') {
      failures.push(`${screen} (${variant}): ${v.id} [${v.impact}] ${v.help}\n    ${v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' — ' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 220)).join('\n    ')}`);
    }
  }
  if (!rows.has(screen)) rows.set(screen, {});
  // A screen checked in several states adds up.
  const had = rows.get(screen)[variant];
  if (had) for (const k of Object.keys(counts)) counts[k] += had[k] ?? 0;
  rows.get(screen)[variant] = counts;
}

async function go(page, hash, ready) {
  await page.evaluate((h) => (location.hash = h), hash);
  await ready();
}

for (const v of VARIANTS) {
  test(`axe on every screen: ${v.name}`, async () => {
    const { name, ...ctx } = v;
    const page = await newPage(browser, { ...ctx, reducedMotion: 'reduce' });
    await page.goto(server.url + '/');
    await page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await check(page, 'join', name);

    await signIn(page, server.url, 'prof', 'password');
    await go(page, `#c/${group.id}`, () => page.getByTestId('chat-title').filter({ hasText: 'Lab' }).waitFor());
    await page.getByTestId('message').filter({ hasText: 'zeppelin' }).waitFor();
    await check(page, 'chat', name);
    if (name === 'desktop dark') await shot(page, 'a11y-chat-dark.png');

    // Keyboard UI: the skip link shown, then a focused message with its actions toolbar.
    await page.evaluate(() => {
      document.body.tabIndex = -1;
      document.body.focus();
      document.body.removeAttribute('tabindex');
    });
    await page.keyboard.press('Tab');
    await page.getByTestId('skip-link').filter({ hasText: 'Skip to message composer' }).waitFor();
    await check(page, 'chat, keyboard', name);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+Tab');
    await until(async () => await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'message') || (await page.keyboard.press('Shift+Tab'), false), 'a focused message');
    await page.keyboard.press('Enter');
    await check(page, 'chat, keyboard', name);
    if (name === 'desktop light') await shot(page, 'a11y-message-actions.png');
    await page.keyboard.press('Escape');

    await page.getByTestId('reply-count').first().click();
    await page.getByTestId('thread-replies').waitFor();
    await check(page, 'thread', name);
    await page.keyboard.press('Escape');

    await go(page, '#search', () => page.getByTestId('search-input').waitFor());
    await page.getByTestId('search-input').fill('entropy');
    await until(async () => (await page.getByTestId('search-result').count()) > 0, 'a search result');
    await check(page, 'search', name);

    await go(page, '#mentions', () => page.locator('main h1, main h2').first().waitFor());
    await check(page, 'mentions', name);

    for (const [screen, hash] of [
      ['console', '#console'],
      ['users', '#users'],
      ['settings', '#settings'],
      ['audit', '#audit'],
      ['flags', '#flags'],
      ['participation', '#participation'],
      ['live feed', '#live'],
    ]) {
      await go(page, hash, () => page.locator('main h1, main h2').first().waitFor());
      // Wait for the view's data (no "Loading…" left).
      await until(async () => (await page.locator('main').getByText(/Loading/).count()) === 0, `${screen} loaded`);
      await check(page, screen, name);
    }

    // A dialog: the new-conversation / profile dialogs share Modal.
    await go(page, `#c/${group.id}`, () => page.getByTestId('chat-title').waitFor());
    assertClean(page);
    await page.context().close();
  });
}

test('axe summary: 0 critical and 0 serious on every screen', () => {
  const vs = VARIANTS.map((v) => v.name);
  const lines = [`| screen | ${vs.join(' | ')} |`, `|---|${vs.map(() => '---').join('|')}|`];
  for (const [screen, byV] of rows) {
    lines.push(`| ${screen} | ${vs.map((n) => { const c = byV[n]; return c ? `${c.critical}/${c.serious}/${c.moderate}/${c.minor}` : '–'; }).join(' | ')} |`);
  }
  console.log('axe violations (nodes) per screen, critical/serious/moderate/minor:\n' + lines.join('\n'));
  if (notes.size) console.log('moderate/minor findings:\n  ' + [...notes].join('\n  '));
  assert.equal(rows.size, 13, 'every screen was checked');
  assert.deepEqual(failures, []);
  assert.deepEqual([...notes], [], 'no moderate or minor findings either');
});
