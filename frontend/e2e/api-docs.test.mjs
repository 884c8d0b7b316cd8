// The API reference page (/api/docs) renders the server's own OpenAPI document
// under its Content-Security-Policy, with scripts from this server only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launch, newPage, shot, assertClean } from './harness.mjs';

const server = new Server();
let browser;

before(async () => {
  await server.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

test('the API reference renders every operation of openapi.json without a CSP violation', async () => {
  const page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  const violations = [];
  await page.exposeFunction('reportViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  const res = await page.goto(server.url + '/api/docs');
  assert.equal(res.status(), 200);
  const csp = res.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-eval/);
  await page.getByRole('heading', { name: /Team Chat REST API/ }).first().waitFor({ timeout: 30_000 });
  const doc = await (await fetch(server.url + '/api/v1/openapi.json')).json();
  const methods = ['get', 'put', 'post', 'patch', 'delete'];
  const summaries = Object.values(doc.paths).flatMap((item) => methods.filter((m) => item[m]).map((m) => item[m].summary));
  // Every operation is rendered (menu entries of collapsed groups are attached, not visible).
  assert.ok(summaries.length > 60, `only ${summaries.length} operations`);
  for (const s of summaries) await page.getByText(s, { exact: true }).first().waitFor({ state: 'attached' });
  const send = page.getByRole('heading', { name: 'Send a message (member; owners and admins when locked)' });
  await send.scrollIntoViewIfNeeded();
  await page.getByText('client_id', { exact: true }).first().waitFor({ state: 'attached' });
  await shot(page, 'api-docs.png');
  assert.deepEqual(violations, [], 'no CSP violation');
  assertClean(page);
  await page.context().close();
});
